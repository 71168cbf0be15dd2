"""Staff accounts from the command line (the first admin, and scripts):

    python -m ops.admin create-staff USERNAME --name "Full Name" --role operator [--password …]

Without --password a strong one is made and printed once. Uses OPS_DATABASE_URL; applies the
ops migrations first, so it works before the service has ever started.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from pathlib import Path

from haulbridge_runtime.db import apply_migrations, create_pool

from . import staff
from .settings import OpsSettings


async def create_staff(settings: OpsSettings, *, username: str, name: str, role: str, password: str | None) -> dict:
    await apply_migrations(settings.database_url, settings.db_schema, Path(__file__).parent / "migrations")
    pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=1)
    try:
        password = password or secrets.token_urlsafe(15)
        await staff.create(pool, username=username, display_name=name, role=role, password=password)
    finally:
        await pool.close()
    return {"username": username.strip().lower(), "role": role, "password": password}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ops.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-staff", help="add a staff account or reset one")
    create.add_argument("username")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=staff.ROLES, default="viewer")
    create.add_argument("--password")
    args = parser.parse_args()
    result = asyncio.run(create_staff(OpsSettings(), username=args.username, name=args.name, role=args.role,
                                      password=args.password))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
