"""Admin commands of the booking service.

    python -m booking.admin import-city [FOLDER]   # default: the demo city shipped with the service
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from haulbridge_runtime.db import apply_migrations, connect

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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m booking.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import-city", help="load haulers, zones, address points and items")
    imp.add_argument("folder", nargs="?", type=Path, default=DEMO_CITY)
    args = parser.parse_args()
    if args.command == "import-city":
        print(json.dumps(asyncio.run(_import_city(args.folder)), indent=2))


if __name__ == "__main__":
    main()
