"""All SQL about the item catalogue."""
from __future__ import annotations

import asyncpg


async def upsert_items(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    await conn.executemany(
        "INSERT INTO items (code, category, label_en, label_es, label_vi, accepted, max_per_booking, alternative)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
        " ON CONFLICT (code) DO UPDATE SET category = EXCLUDED.category, label_en = EXCLUDED.label_en,"
        " label_es = EXCLUDED.label_es, label_vi = EXCLUDED.label_vi, accepted = EXCLUDED.accepted,"
        " max_per_booking = EXCLUDED.max_per_booking, alternative = EXCLUDED.alternative",
        rows,
    )


async def items_by_code(conn: asyncpg.Connection, codes: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM items WHERE code = ANY($1::text[])", codes)
    return {r["code"]: r for r in rows}


async def all_items(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM items ORDER BY accepted DESC, category, code")
