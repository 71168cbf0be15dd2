"""Consumers of booking.v1 and hauler.v1: decide which messages a resident gets.

Each handler writes in one inbox transaction. A message is unique per (booking,
kind, channel, occurrence): a redelivered event names the same occurrence and
creates nothing new; a new occurrence (the pickup moved to another date, a new
confirmation for it) is a new message. Sending happens afterwards, in
:mod:`notify.sender`.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from haulbridge_runtime.envelope import Event
from haulbridge_runtime.inbox import inbox_transaction
from haulbridge_runtime.topics import EventType

from . import repository
from .settings import NotifySettings

CONSUMER = "notify"
CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Message:
    kind: str
    context: tuple[str, ...] = ()  # fields of the event's data the templates use
    occurrence: Callable[[dict], str] = lambda data: ""


def _on_date(data: dict) -> str:
    return data.get("pickup_date") or ""


# Which event tells the resident what. Missed reports from the resident and from the hauler are
# one message for one pickup day; a rejection and a failed dispatch are both "the city will call".
MESSAGES: dict[str, Message] = {
    EventType.BOOKING_REQUESTED: Message("booking_received", ("pickup_date",)),
    EventType.PICKUP_CONFIRMED: Message("pickup_confirmed", ("pickup_date", "window"), _on_date),
    EventType.BOOKING_RESCHEDULED: Message(
        "booking_rescheduled", ("pickup_date", "previous_pickup_date", "by", "reason"), _on_date),
    EventType.BOOKING_CANCELLED: Message("booking_cancelled", ("pickup_date",)),
    EventType.PICKUP_COMPLETED: Message("pickup_completed", ("pickup_date", "completed_at")),
    EventType.PICKUP_MISSED: Message("pickup_missed", ("pickup_date", "reason"), _on_date),
    EventType.BOOKING_MISSED_REPORTED: Message("pickup_missed", ("pickup_date",), _on_date),
    EventType.DISPATCH_FAILED: Message("dispatch_failed", ("pickup_date",)),
    EventType.DISPATCH_REJECTED: Message("dispatch_failed", ("pickup_date",)),
}
# The day before the pickup: put it out, what not to include. Scheduled in the database when the
# booking is made (or moved), so it survives restarts; withdrawn when there is nothing to remind of.
REMINDER = "pickup_reminder"
NO_REMINDER_AFTER = {
    EventType.BOOKING_CANCELLED: "the booking was cancelled",
    EventType.PICKUP_COMPLETED: "the pickup is done",
    EventType.PICKUP_MISSED: "the pickup was missed",
    EventType.BOOKING_MISSED_REPORTED: "the pickup was missed",
}
KINDS = sorted({m.kind for m in MESSAGES.values()} | {REMINDER})
# After these the booking is over: the retention clock for the resident's contact details starts.
CLOSES_BOOKING = {EventType.PICKUP_COMPLETED, EventType.BOOKING_CANCELLED, EventType.DISPATCH_REJECTED}


def remind_at(pickup_date: date, settings: NotifySettings) -> datetime:
    return datetime.combine(pickup_date - timedelta(days=1), time(settings.reminder_hour_day_before),
                            tzinfo=ZoneInfo(settings.timezone))


async def _plan_reminder(conn: asyncpg.Connection, event: Event, booking_id: uuid.UUID,
                         settings: NotifySettings) -> None:
    if event.type in (EventType.BOOKING_REQUESTED, EventType.BOOKING_RESCHEDULED):
        day = date.fromisoformat(event.data["pickup_date"])
        await repository.withdraw(conn, booking_id=booking_id, kind=REMINDER, reason="the pickup moved",
                                  keep_occurrence=day.isoformat())
        send_at = remind_at(day, settings)
        if send_at > datetime.now(UTC):  # booked for tomorrow after the hour: the received message says it all
            for channel in CHANNELS:
                await repository.create_notification(
                    conn, booking_id=booking_id, kind=REMINDER, channel=channel, occurrence=day.isoformat(),
                    context={"pickup_date": day.isoformat()}, correlation_id=event.correlationid, send_at=send_at,
                    traceparent=event.traceparent)
    elif event.type in NO_REMINDER_AFTER:
        await repository.withdraw(conn, booking_id=booking_id, kind=REMINDER, reason=NO_REMINDER_AFTER[event.type])


def handlers(pool_getter, settings: NotifySettings) -> dict:
    async def on_event(event: Event) -> None:
        data, message = event.data, MESSAGES[event.type]
        booking_id = uuid.UUID(data["booking_id"])
        async with inbox_transaction(pool_getter(), event, CONSUMER) as conn:
            if event.type == EventType.BOOKING_REQUESTED:
                await repository.upsert_recipient(
                    conn, booking_id=booking_id, reference=data["reference"], contact=data["contact"],
                    pickup_date=date.fromisoformat(data["pickup_date"]), manage_url=data.get("manage_url"),
                )
            elif event.type == EventType.BOOKING_RESCHEDULED:
                await repository.move_pickup(conn, booking_id=booking_id,
                                             pickup_date=date.fromisoformat(data["pickup_date"]))
            context = {k: data[k] for k in message.context if data.get(k) is not None}
            await _create(conn, booking_id=booking_id, kind=message.kind, occurrence=message.occurrence(data),
                          context=context, correlation_id=event.correlationid, traceparent=event.traceparent)
            await _plan_reminder(conn, event, booking_id, settings)
            if event.type in CLOSES_BOOKING:
                await repository.close(conn, booking_id=booking_id)

    return {event_type: on_event for event_type in MESSAGES}


async def _create(conn: asyncpg.Connection, *, booking_id: uuid.UUID, kind: str, occurrence: str, context: dict,
                  correlation_id: str, traceparent: str) -> None:
    # One message per channel. Whether it goes (the resident's channels, STOP, unsubscribe) is
    # decided right before sending, so a choice made in between counts and the record says why.
    for channel in CHANNELS:
        await repository.create_notification(conn, booking_id=booking_id, kind=kind, channel=channel,
                                             occurrence=occurrence, context=context, correlation_id=correlation_id,
                                             traceparent=traceparent)
