"""All SQL about capacity, blackout days and holds."""
from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg


async def blackout_days(conn: asyncpg.Connection, *, zone_id: str | None, first: date, last: date) -> dict[date, str]:
    rows = await conn.fetch(
        "SELECT day, reason FROM blackout_days WHERE day BETWEEN $2 AND $3 AND (zone_id IS NULL OR zone_id = $1)",
        zone_id, first, last,
    )
    return {r["day"]: r["reason"] for r in rows}


async def city_holidays(conn: asyncpg.Connection, first: date, last: date) -> set[date]:
    rows = await conn.fetch("SELECT day FROM blackout_days WHERE zone_id IS NULL AND day BETWEEN $1 AND $2",
                            first, last)
    return {r["day"] for r in rows}


async def weekday_defaults(conn: asyncpg.Connection, zone_id: str) -> dict[int, int]:
    rows = await conn.fetch("SELECT weekday, pickups FROM zone_capacity_defaults WHERE zone_id = $1", zone_id)
    return {r["weekday"]: r["pickups"] for r in rows}


async def capacity_rows(conn: asyncpg.Connection, zone_id: str, first: date, last: date) -> dict[date, asyncpg.Record]:
    rows = await conn.fetch("SELECT day, pickups, booked FROM capacity_days WHERE zone_id = $1 AND day BETWEEN $2 AND $3",
                            zone_id, first, last)
    return {r["day"]: r for r in rows}


async def active_holds_by_day(conn: asyncpg.Connection, zone_id: str, first: date, last: date) -> dict[date, int]:
    rows = await conn.fetch(
        "SELECT day, count(*) AS n FROM holds WHERE zone_id = $1 AND day BETWEEN $2 AND $3"
        " AND released_at IS NULL AND expires_at > now() GROUP BY day",
        zone_id, first, last,
    )
    return {r["day"]: r["n"] for r in rows}


async def lock_capacity_day(conn: asyncpg.Connection, zone_id: str, day: date, default_pickups: int) -> asyncpg.Record:
    """Create the day's row from the default if needed, then lock it: every decision about
    this zone and day is taken by one transaction at a time."""
    await conn.execute(
        "INSERT INTO capacity_days (zone_id, day, pickups) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        zone_id, day, default_pickups,
    )
    return await conn.fetchrow("SELECT pickups, booked FROM capacity_days WHERE zone_id = $1 AND day = $2 FOR UPDATE",
                               zone_id, day)


async def other_active_holds(conn: asyncpg.Connection, zone_id: str, day: date,
                             except_hold: UUID | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, expires_at FROM holds WHERE zone_id = $1 AND day = $2 AND released_at IS NULL"
        " AND expires_at > now() AND ($3::uuid IS NULL OR id <> $3) ORDER BY expires_at",
        zone_id, day, except_hold,
    )


async def change_booked(conn: asyncpg.Connection, zone_id: str, day: date, delta: int) -> None:
    await conn.execute("UPDATE capacity_days SET booked = booked + $3 WHERE zone_id = $1 AND day = $2",
                       zone_id, day, delta)


async def insert_hold(conn: asyncpg.Connection, *, id: UUID, zone_id: str, day: date, address_id: str,
                      expires_at: datetime) -> None:
    await conn.execute("INSERT INTO holds (id, zone_id, day, address_id, expires_at) VALUES ($1,$2,$3,$4,$5)",
                       id, zone_id, day, address_id, expires_at)


async def get_hold(conn: asyncpg.Connection, hold_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT *, expires_at > now() AND released_at IS NULL AS active FROM holds"
                               " WHERE id = $1 FOR UPDATE", hold_id)


async def release_hold(conn: asyncpg.Connection, hold_id: UUID, booking_id: UUID | None) -> None:
    await conn.execute("UPDATE holds SET released_at = now(), booking_id = $2 WHERE id = $1", hold_id, booking_id)


async def sweep_expired_holds(conn: asyncpg.Connection) -> int:
    status = await conn.execute(
        "UPDATE holds SET released_at = expires_at WHERE released_at IS NULL AND expires_at <= now()")
    return int(status.split()[-1])


async def upsert_weekday_defaults(conn: asyncpg.Connection, rows: list[tuple[str, int, int]]) -> None:
    await conn.executemany(
        "INSERT INTO zone_capacity_defaults (zone_id, weekday, pickups) VALUES ($1, $2, $3)"
        " ON CONFLICT (zone_id, weekday) DO UPDATE SET pickups = EXCLUDED.pickups", rows)


async def upsert_city_holidays(conn: asyncpg.Connection, rows: list[tuple[date, str]]) -> None:
    await conn.executemany(
        "INSERT INTO blackout_days (zone_id, day, reason) VALUES (NULL, $1, $2)"
        " ON CONFLICT (COALESCE(zone_id, ''), day) DO UPDATE SET reason = EXCLUDED.reason", rows)


async def set_capacity(conn: asyncpg.Connection, zone_id: str, day: date, pickups: int) -> None:
    """Staff set a day's pickups; never below what is already booked (the CHECK refuses it)."""
    await conn.execute(
        "INSERT INTO capacity_days (zone_id, day, pickups) VALUES ($1, $2, $3)"
        " ON CONFLICT (zone_id, day) DO UPDATE SET pickups = EXCLUDED.pickups", zone_id, day, pickups)
