"""All SQL of the staff API: search, audit, and the city's configuration."""
from __future__ import annotations

from datetime import date

import asyncpg

from ..bookings import repository as bookings_repository


async def audit(conn: asyncpg.Connection, *, actor: str, role: str, action: str, target: str, detail: dict) -> None:
    await conn.execute("INSERT INTO audit_log (actor, role, action, target, detail) VALUES ($1,$2,$3,$4,$5)",
                       actor, role, action, target, detail)


async def audit_entries(conn: asyncpg.Connection, limit: int) -> list[dict]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM audit_log ORDER BY id DESC LIMIT $1", limit)]


async def search_bookings(conn: asyncpg.Connection, *, reference: str | None, address: str | None,
                          phone: str | None, email: str | None, status: str | None, pickup_date: date | None,
                          limit: int) -> list[dict]:
    where, args = bookings_repository.where_all([
        ("b.reference = upper({}::text)", reference),
        ("a.address ILIKE '%' || {}::text || '%'", address),
        ("b.contact->>'phone' LIKE '%' || {}::text", phone),
        ("lower(b.contact->>'email') = lower({}::text)", email),
        ("b.status = {}::text", status),
        ("b.pickup_date = {}::date", pickup_date),
    ], first=2)
    rows = await conn.fetch(
        "SELECT b.id, b.reference, b.status, b.pickup_date, b.target_date, b.channel, b.hauler_id, a.address,"
        "       b.contact->>'name' AS name, b.contact->>'phone' AS phone, b.contact->>'email' AS email, b.created_at"
        f" FROM bookings b JOIN address_points a ON a.id = b.address_id{where}"
        " ORDER BY b.created_at DESC LIMIT $1",
        limit, *args,
    )
    return [dict(r) for r in rows]


async def haulers(conn: asyncpg.Connection) -> list[dict]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM haulers ORDER BY id")]


async def zones(conn: asyncpg.Connection) -> list[dict]:
    return [dict(r) for r in await conn.fetch(
        "SELECT z.id, z.name, z.hauler_id, z.collection_day,"
        " (SELECT coalesce(jsonb_object_agg(weekday, pickups), '{}') FROM zone_capacity_defaults d"
        "  WHERE d.zone_id = z.id) AS weekday_pickups FROM zones z ORDER BY z.id")]


async def update_zone(conn: asyncpg.Connection, zone_id: str, *, name: str | None, hauler_id: str | None,
                      collection_day: str | None) -> bool:
    status = await conn.execute(
        "UPDATE zones SET name = COALESCE($2, name), hauler_id = COALESCE($3, hauler_id),"
        " collection_day = COALESCE($4, collection_day) WHERE id = $1", zone_id, name, hauler_id, collection_day)
    return status.endswith(" 1")


async def set_capacity_range(conn: asyncpg.Connection, zone_id: str, days: list[date], pickups: int) -> None:
    await conn.executemany(
        "INSERT INTO capacity_days (zone_id, day, pickups) VALUES ($1, $2, $3)"
        " ON CONFLICT (zone_id, day) DO UPDATE SET pickups = EXCLUDED.pickups",
        [(zone_id, d, pickups) for d in days])


async def overbooked_days(conn: asyncpg.Connection, zone_id: str, days: list[date], pickups: int) -> list[dict]:
    rows = await conn.fetch("SELECT day, booked FROM capacity_days WHERE zone_id = $1 AND day = ANY($2::date[])"
                            " AND booked > $3 ORDER BY day", zone_id, days, pickups)
    return [{"date": r["day"].isoformat(), "booked": r["booked"]} for r in rows]


async def add_blackout(conn: asyncpg.Connection, *, zone_id: str | None, day: date, reason: str) -> int:
    return await conn.fetchval(
        "INSERT INTO blackout_days (zone_id, day, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT (COALESCE(zone_id, ''), day) DO UPDATE SET reason = EXCLUDED.reason RETURNING id",
        zone_id, day, reason)


async def remove_blackout(conn: asyncpg.Connection, blackout_id: int) -> bool:
    return (await conn.execute("DELETE FROM blackout_days WHERE id = $1", blackout_id)).endswith(" 1")


async def blackouts(conn: asyncpg.Connection) -> list[dict]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM blackout_days ORDER BY day")]


async def update_item(conn: asyncpg.Connection, code: str, changes: dict) -> bool:
    columns = ("category", "label_en", "label_es", "label_vi", "accepted", "max_per_booking", "alternative")
    fields = {k: v for k, v in changes.items() if k in columns}
    if not fields:
        return bool(await conn.fetchval("SELECT true FROM items WHERE code = $1", code))
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    return (await conn.execute(f"UPDATE items SET {sets} WHERE code = $1", code, *fields.values())).endswith(" 1")
