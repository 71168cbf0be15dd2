"""All SQL about address points, zones and haulers."""
from __future__ import annotations

import asyncpg


async def find_address(conn: asyncpg.Connection, normalized: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.*, z.name AS zone_name, z.hauler_id, z.collection_day, h.name AS hauler_name,"
        "       h.vendor_kind"
        " FROM address_points a LEFT JOIN zones z ON z.id = a.zone_id LEFT JOIN haulers h ON h.id = z.hauler_id"
        " WHERE a.normalized = $1",
        normalized,
    )


_DIRECTIONS = ("N", "S", "E", "W", "NE", "NW", "SE", "SW")


async def find_ignoring_direction(conn: asyncpg.Connection, normalized: str) -> list[asyncpg.Record]:
    """Address points whose key equals ``normalized`` once a leading street direction is dropped."""
    number, _, rest = normalized.partition(" ")
    return await conn.fetch(
        "SELECT a.*, z.name AS zone_name, z.hauler_id, z.collection_day, h.name AS hauler_name, h.vendor_kind"
        " FROM address_points a LEFT JOIN zones z ON z.id = a.zone_id LEFT JOIN haulers h ON h.id = z.hauler_id"
        " WHERE a.normalized = ANY($1::text[]) ORDER BY a.address",
        [f"{number} {d} {rest}" for d in _DIRECTIONS],
    )


async def addresses_on_street(conn: asyncpg.Connection, street_normalized: str, limit: int = 5) -> list[str]:
    rows = await conn.fetch(
        "SELECT address FROM address_points WHERE normalized LIKE '% ' || $1 ORDER BY address LIMIT $2",
        street_normalized,
        limit,
    )
    return [r["address"] for r in rows]


async def upsert_hauler(conn: asyncpg.Connection, row: dict) -> None:
    await conn.execute(
        "INSERT INTO haulers (id, name, vendor_kind, phone, email) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, vendor_kind = EXCLUDED.vendor_kind,"
        " phone = EXCLUDED.phone, email = EXCLUDED.email",
        row["id"], row["name"], row["vendor_kind"], row.get("phone"), row.get("email"),
    )


async def upsert_zone(conn: asyncpg.Connection, *, id: str, name: str, hauler_id: str,
                      collection_day: str | None, boundary: dict) -> None:
    await conn.execute(
        "INSERT INTO zones (id, name, hauler_id, collection_day, boundary) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, hauler_id = EXCLUDED.hauler_id,"
        " collection_day = EXCLUDED.collection_day, boundary = EXCLUDED.boundary",
        id, name, hauler_id, collection_day, boundary,
    )


async def upsert_address_points(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    await conn.executemany(
        "INSERT INTO address_points (id, address, normalized, house_number, street, city, postcode,"
        " latitude, longitude, land_use, zone_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        " ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, normalized = EXCLUDED.normalized,"
        " house_number = EXCLUDED.house_number, street = EXCLUDED.street, city = EXCLUDED.city,"
        " postcode = EXCLUDED.postcode, latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude,"
        " land_use = EXCLUDED.land_use, zone_id = EXCLUDED.zone_id",
        rows,
    )


async def search_addresses(conn: asyncpg.Connection, text: str, limit: int) -> list[asyncpg.Record]:
    """Addresses whose text contains every word typed, shortest first."""
    words = [w for w in text.replace(",", " ").split() if w]
    return await conn.fetch(
        "SELECT address, land_use, zone_id FROM address_points"
        " WHERE (SELECT bool_and(address ILIKE '%' || w || '%') FROM unnest($1::text[]) AS w)"
        " ORDER BY length(address), address LIMIT $2",
        words, limit,
    )
