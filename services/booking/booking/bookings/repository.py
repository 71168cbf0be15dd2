"""All SQL about bookings and their history."""
from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg


def where_all(filters: list[tuple[str, object]], *, first: int = 1) -> tuple[str, list]:
    """`` WHERE a AND b`` for the filters whose value is given, and their arguments in order.

    Each filter is SQL with ``{}`` where its ``$n`` goes. Only the given filters make the
    statement, so PostgreSQL plans it with the indexes they can use; a catch-all
    ``($1 IS NULL OR col = $1)`` would get a generic plan that scans every booking.
    """
    given = [(sql, value) for sql, value in filters if value is not None]
    if not given:
        return "", []
    clauses = [sql.format(f"${first + n}") for n, (sql, _value) in enumerate(given)]
    return " WHERE " + " AND ".join(clauses), [value for _sql, value in given]


async def next_reference_number(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT nextval('booking_reference_seq')")


async def insert_booking(
    conn: asyncpg.Connection, *, id: UUID, reference: str, status: str, address_id: str, zone_id: str,
    hauler_id: str, pickup_date: date, target_date: date, items: list, contact: dict, channel: str,
    notes: str | None, correlation_id: UUID, hold_id: UUID | None,
) -> datetime:
    """Store a new booking; its ``created_at``."""
    return await conn.fetchval(
        "INSERT INTO bookings (id, reference, status, address_id, zone_id, hauler_id, pickup_date, target_date,"
        " items, contact, channel, notes, correlation_id, hold_id)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) RETURNING created_at",
        id, reference, status, address_id, zone_id, hauler_id, pickup_date, target_date, items, contact,
        channel, notes, correlation_id, hold_id,
    )


async def lock_household(conn: asyncpg.Connection, address_id: str) -> None:
    await conn.execute("SELECT 1 FROM address_points WHERE id = $1 FOR UPDATE", address_id)


async def household_bookings_in_year(conn: asyncpg.Connection, address_id: str, year: int) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM bookings WHERE address_id = $1 AND status <> 'cancelled'"
        " AND pickup_date >= make_date($2, 1, 1) AND pickup_date < make_date($2 + 1, 1, 1)",
        address_id, year,
    )


async def idempotency_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT request_hash, booking_id FROM idempotency_keys WHERE key = $1", key)


async def insert_idempotency_key(conn: asyncpg.Connection, *, key: str, request_hash: str, booking_id: UUID) -> None:
    await conn.execute("INSERT INTO idempotency_keys (key, request_hash, booking_id) VALUES ($1, $2, $3)",
                       key, request_hash, booking_id)


async def set_pickup_date(conn: asyncpg.Connection, booking_id: UUID, pickup_date: date, *, target_date: date) -> None:
    await conn.execute("UPDATE bookings SET pickup_date = $2, target_date = $3, updated_at = now() WHERE id = $1",
                       booking_id, pickup_date, target_date)


async def insert_feedback(conn: asyncpg.Connection, booking_id: UUID, rating: int, comment: str | None) -> bool:
    return bool(await conn.fetchval(
        "INSERT INTO feedback (booking_id, rating, comment) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
        booking_id, rating, comment))


async def add_history(
    conn: asyncpg.Connection, *, booking_id: UUID, step: str, from_status: str | None, to_status: str | None,
    outcome: str, source: str, event_id: str | None = None, event_type: str | None = None,
    detail: dict | None = None,
) -> asyncpg.Record:
    """Add a step to the booking's timeline; the step as stored."""
    return await conn.fetchrow(
        "INSERT INTO booking_history (booking_id, step, from_status, to_status, outcome, source, event_id,"
        " event_type, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING *",
        booking_id, step, from_status, to_status, outcome, source, event_id, event_type, detail or {},
    )


async def lock_booking(conn: asyncpg.Connection, booking_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM bookings WHERE id = $1 FOR UPDATE", booking_id)


async def set_status(conn: asyncpg.Connection, booking_id: UUID, status: str, *, hauler_ref: str | None = None) -> None:
    await conn.execute(
        "UPDATE bookings SET status = $2, hauler_ref = COALESCE($3, hauler_ref), updated_at = now() WHERE id = $1",
        booking_id, status, hauler_ref,
    )


_BOOKING_VIEW = (
    "SELECT b.*, a.address, z.name AS zone_name, h.name AS hauler_name"
    " FROM bookings b JOIN address_points a ON a.id = b.address_id JOIN zones z ON z.id = b.zone_id"
    " JOIN haulers h ON h.id = b.hauler_id"
)


async def get_booking(conn: asyncpg.Connection, *, booking_id: UUID | None = None,
                      reference: str | None = None) -> asyncpg.Record | None:
    # One statement per key, not "(id = $1) OR (reference = $2)": a prepared statement's generic
    # plan for the OR cannot use either index, and scans every booking the city ever had.
    if booking_id is not None:
        return await conn.fetchrow(_BOOKING_VIEW + " WHERE b.id = $1", booking_id)
    return await conn.fetchrow(_BOOKING_VIEW + " WHERE b.reference = $1", reference)


async def history(conn: asyncpg.Connection, booking_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM booking_history WHERE booking_id = $1 ORDER BY id", booking_id)


async def open311_requests(conn: asyncpg.Connection, *, references: list[str] | None = None,
                           start: date | None = None, end: date | None = None, limit: int = 1000) -> list:
    where, args = where_all([("b.reference = ANY({}::text[])", references), ("b.created_at >= {}::date", start),
                             ("b.created_at < {}::date + 1", end)], first=2)
    return await conn.fetch(
        "SELECT b.*, a.address, a.latitude, a.longitude, h.name AS hauler_name"
        " FROM bookings b JOIN address_points a ON a.id = b.address_id JOIN haulers h ON h.id = b.hauler_id"
        f"{where} ORDER BY b.created_at DESC LIMIT $1",
        limit, *args,
    )
