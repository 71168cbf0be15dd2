"""PostgreSQL access: one pool per service, bound to the service's own schema,
and SQL migrations applied at start-up.

Migrations are plain ``NNN_name.sql`` files. The runtime's own tables (outbox,
inbox) come first, then the service's. They run under an advisory lock, so
several replicas starting at once apply each file exactly once.
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import asyncpg

from .logs import get_logger

log = get_logger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": schema, "timezone": "UTC"},
    )


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema, "timezone": "UTC"})
    await _init_connection(conn)
    return conn


def _runtime_migrations() -> list[tuple[str, str]]:
    folder = resources.files("haulbridge_runtime") / "migrations"
    return sorted(
        (f"runtime/{entry.name}", entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )


def _folder_migrations(folder: Path) -> list[tuple[str, str]]:
    return sorted((p.name, p.read_text()) for p in folder.glob("*.sql"))


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)


async def apply_migrations(dsn: str, schema: str, folder: Path) -> list[str]:
    """Create the schema if needed and apply pending migrations; return those applied."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        try:
            # In production the schema is created by the DBA with the service's role as owner.
            if not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", schema):
                await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'SET search_path TO "{schema}"')
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, sql in [*_runtime_migrations(), *_folder_migrations(folder)]:
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
                applied.append(version)
                log.info("migration applied", schema=schema, version=version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    finally:
        await conn.close()
    return applied
