"""Consumer of ``hauler.v1``: each hauler report moves its booking through the state machine."""
from __future__ import annotations

import asyncpg

from haulbridge_runtime.envelope import Event
from haulbridge_runtime.inbox import inbox_transaction

from .bookings import service

CONSUMER = "booking"


def handlers(pool_getter) -> dict:
    async def on_hauler_report(event: Event) -> None:
        pool: asyncpg.Pool = pool_getter()
        async with inbox_transaction(pool, event, CONSUMER) as conn:
            await service.apply_hauler_report(conn, event=event)

    return {event_type: on_hauler_report for event_type in service.HAULER_REPORTS}
