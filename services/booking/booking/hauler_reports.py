"""Consumer of ``hauler.v1``: each hauler report moves its booking through the state machine."""
from __future__ import annotations

import asyncpg

from haulbridge_runtime.envelope import Event
from haulbridge_runtime.inbox import inbox_transaction
from haulbridge_runtime.topics import EventType

from . import city_rules
from .bookings import service
from .settings import BookingSettings

CONSUMER = "booking"


def handlers(pool_getter, settings: BookingSettings) -> dict:
    async def on_hauler_report(event: Event) -> None:
        pool: asyncpg.Pool = pool_getter()
        async with inbox_transaction(pool, event, CONSUMER) as conn:
            await service.apply_hauler_report(conn, event=event)

    async def on_hauler_reschedule(event: Event) -> None:
        async with inbox_transaction(pool_getter(), event, CONSUMER) as conn:
            rules = await city_rules.effective(conn, settings)
            await service.apply_hauler_reschedule(conn, event=event, settings=rules)

    return {**{event_type: on_hauler_report for event_type in service.HAULER_REPORTS},
            EventType.PICKUP_RESCHEDULED: on_hauler_reschedule}
