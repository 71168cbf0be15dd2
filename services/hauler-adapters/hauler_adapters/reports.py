"""What a hauler says about a job, applied once and in order, whichever way it came (a signed
webhook, a status poll, a one-click link or a reply email, a completion file).

A job only moves forward: accepted → confirmed → completed | missed | cancelled. A report that
would move it back or sideways (a "confirmed" arriving after "completed", the same webhook five
times, a poll repeating what the last one said) changes nothing and publishes nothing, so
duplicate, late and out-of-order reports leave one correct state. Each step that does happen
publishes the city's event (``pickup.confirmed``, ``pickup.completed``, ``pickup.missed``) in the
same transaction, on the booking's correlation id and trace. A proposed new day
(``rescheduled``) is not a step forward: it publishes ``pickup.rescheduled`` once per new day.
"""
from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from haulbridge_runtime import tracing
from haulbridge_runtime.envelope import child_traceparent, new_event
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType, short_name

from . import repository
from .vendors.base import VendorReport

SOURCE = "/haulbridge/hauler-adapters"

# How far along a job is; a report applies only when it moves the job further.
PROGRESS = {"sending": 0, "failed": 0, "queued": 1, "accepted": 1, "confirmed": 2,
            "completed": 3, "missed": 3, "cancelled": 3, "rejected": 3}
EVENTS = {"confirmed": EventType.PICKUP_CONFIRMED, "completed": EventType.PICKUP_COMPLETED,
          "missed": EventType.PICKUP_MISSED, "rejected": EventType.DISPATCH_REJECTED}


async def apply(conn: asyncpg.Connection, dispatch: asyncpg.Record, report: VendorReport) -> bool:
    """Apply one report inside the caller's transaction; False when it changes nothing."""
    if report.status == "rescheduled":
        return await _move(conn, dispatch, report)
    if PROGRESS.get(report.status, 0) <= PROGRESS.get(dispatch["status"], 0):
        return False
    await repository.set_dispatch_status(conn, dispatch["booking_id"], report.status, report.external_ref)
    event_type = EVENTS.get(report.status)
    if event_type is None:
        return True
    data = {"booking_id": str(dispatch["booking_id"]), "hauler_id": dispatch["hauler_id"],
            "reference": dispatch["reference"], "hauler_reference": report.external_ref}
    if report.status == "confirmed":
        data["pickup_date"] = report.pickup_date or dispatch["pickup_date"].isoformat()
        if report.window:
            data["window"] = report.window
    elif report.status == "completed":
        data["completed_at"] = report.occurred_at
    elif report.status == "missed":
        data["pickup_date"] = report.pickup_date or dispatch["pickup_date"].isoformat()
        data["reason"] = report.reason or "the hauler reported the pickup missed"
    else:
        data["reason"] = report.reason or "the hauler refused the job"
    await _publish(conn, dispatch, event_type, data)
    return True


async def _move(conn: asyncpg.Connection, dispatch: asyncpg.Record, report: VendorReport) -> bool:
    """The hauler proposes another day: ``pickup.rescheduled`` (the booking service moves the
    booking, or raises it with staff). A job already done, or the same day again, changes nothing."""
    previous = dispatch["pickup_date"].isoformat()
    if PROGRESS.get(dispatch["status"], 0) >= PROGRESS["completed"] or not report.pickup_date \
            or report.pickup_date == previous:
        return False
    await repository.move_dispatch(conn, dispatch["booking_id"], date.fromisoformat(report.pickup_date))
    data = {"booking_id": str(dispatch["booking_id"]), "hauler_id": dispatch["hauler_id"],
            "reference": dispatch["reference"], "hauler_reference": report.external_ref,
            "pickup_date": report.pickup_date, "previous_pickup_date": previous, "reason": report.reason}
    if report.window:
        data["window"] = report.window
    await _publish(conn, dispatch, EventType.PICKUP_RESCHEDULED, data)
    return True


async def _publish(conn: asyncpg.Connection, dispatch: asyncpg.Record, event_type: str, data: dict) -> None:
    # In the booking's trace (a webhook's own request is a trace of the vendor's; it is linked).
    with tracing.span(f"hauler report {short_name(event_type)}", traceparent=dispatch["traceparent"],
                      attributes={"haulbridge.hauler_id": dispatch["hauler_id"]}):
        await add_event(conn, new_event(
            type=event_type, source=SOURCE, subject=str(dispatch["booking_id"]), data=data,
            correlation_id=dispatch["correlation_id"], traceparent=child_traceparent(dispatch["traceparent"])))


async def receive(pool: asyncpg.Pool, hauler_id: str, report: VendorReport, *,
                  booking_id: uuid.UUID | None = None) -> str:
    """A report that names its job (by our booking id, or the hauler's reference for it):
    ``applied``, ``stale`` (nothing new) or ``unknown_job``."""
    async with pool.acquire() as conn, conn.transaction():
        dispatch = await repository.find_dispatch(conn, hauler_id=hauler_id, external_ref=report.external_ref,
                                                  booking_id=booking_id)
        if dispatch is None:
            return "unknown_job"
        return "applied" if await apply(conn, dispatch, report) else "stale"
