"""Consumers of booking.v1 and hauler.v1: decide which messages a resident gets.

Each handler writes in one inbox transaction; the unique (booking, kind,
channel) key means a message is created once however often an event comes.
Sending happens afterwards, in :mod:`notify.sender`.
"""
from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from haulbridge_runtime.envelope import Event
from haulbridge_runtime.inbox import inbox_transaction
from haulbridge_runtime.topics import EventType

from . import repository

CONSUMER = "notify"

# Which hauler report becomes which message kind.
MESSAGE_FOR = {
    EventType.PICKUP_CONFIRMED: "pickup_confirmed",
    EventType.PICKUP_COMPLETED: "pickup_completed",
}


def handlers(pool_getter) -> dict:
    async def on_booking_requested(event: Event) -> None:
        data = event.data
        async with inbox_transaction(pool_getter(), event, CONSUMER) as conn:
            await repository.upsert_recipient(
                conn, booking_id=uuid.UUID(data["booking_id"]), reference=data["reference"],
                contact=data["contact"], pickup_date=date.fromisoformat(data["pickup_date"]),
                manage_url=data.get("manage_url"),
            )

    async def on_hauler_report(event: Event) -> None:
        data = event.data
        context = {k: data[k] for k in ("window", "pickup_date", "completed_at") if data.get(k)}
        async with inbox_transaction(pool_getter(), event, CONSUMER) as conn:
            await _create(conn, booking_id=uuid.UUID(data["booking_id"]), kind=MESSAGE_FOR[event.type],
                          context=context, correlation_id=event.correlationid)

    return {
        EventType.BOOKING_REQUESTED: on_booking_requested,
        **{event_type: on_hauler_report for event_type in MESSAGE_FOR},
    }


async def _create(conn: asyncpg.Connection, *, booking_id: uuid.UUID, kind: str, context: dict,
                  correlation_id: str) -> None:
    # Email for now; the channel choice (email/SMS) and opt-outs are checked here as channels grow.
    await repository.create_notification(conn, booking_id=booking_id, kind=kind, channel="email",
                                         context=context, correlation_id=correlation_id)
