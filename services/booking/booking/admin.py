"""Admin commands of the booking service.

    python -m booking.admin import-city [FOLDER]   # default: the demo city shipped with the service
    python -m booking.admin create-client NAME --kind staff --role admin   # prints the key, once
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from haulbridge_runtime.db import apply_migrations, connect

from . import clients
from .app import MIGRATIONS
from .places.importer import import_city
from .settings import BookingSettings

DEMO_CITY = Path(__file__).parent / "demo_city"


async def _import_city(folder: Path) -> dict:
    settings = BookingSettings()
    await apply_migrations(settings.database_url, settings.db_schema, MIGRATIONS)
    conn = await connect(settings.database_url, settings.db_schema)
    try:
        report = await import_city(conn, folder)
    finally:
        await conn.close()
    return report.__dict__


async def _create_client(name: str, kind: str, role: str, rate: int | None) -> dict:
    settings = BookingSettings()
    await apply_migrations(settings.database_url, settings.db_schema, MIGRATIONS)
    conn = await connect(settings.database_url, settings.db_schema)
    try:
        client, key = await clients.create(conn, name=name, kind=kind, role=role, rate_limit_per_minute=rate)
    finally:
        await conn.close()
    return {"name": client.name, "kind": client.kind, "role": client.role, "key": key}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m booking.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import-city", help="load haulers, zones, address points and items")
    imp.add_argument("folder", nargs="?", type=Path, default=DEMO_CITY)
    new = sub.add_parser("create-client", help="create an API key for a front end or a staff member")
    new.add_argument("name")
    new.add_argument("--kind", choices=["frontend", "staff"], required=True)
    new.add_argument("--role", default="client", choices=["client", *clients.STAFF_ROLES])
    new.add_argument("--rate-limit-per-minute", type=int, default=None)
    args = parser.parse_args()
    if args.command == "import-city":
        print(json.dumps(asyncio.run(_import_city(args.folder)), indent=2))
    elif args.command == "create-client":
        print(json.dumps(asyncio.run(_create_client(args.name, args.kind, args.role, args.rate_limit_per_minute))))


if __name__ == "__main__":
    main()
