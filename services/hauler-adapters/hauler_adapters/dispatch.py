"""Carry a ``booking.requested`` event to the booking's hauler.

The order of steps is the crash-safety argument:
1. record the attempt (committed) — no connection is held after this;
2. call the hauler with an idempotency key derived from the event, retrying
   with backoff and jitter;
3. in one transaction: the outcome, the city event (``dispatch.accepted``,
   ``.rejected`` or ``.failed``) in the outbox, and the inbox row.
A crash between 2 and 3 replays the event; the hauler answers the same job
for the same key, so it still has exactly one.
"""
from __future__ import annotations

import dataclasses
import uuid
from datetime import date

import asyncpg

from haulbridge_runtime.envelope import Event, new_event
from haulbridge_runtime.failpoints import failpoint
from haulbridge_runtime.inbox import AlreadyProcessed, already_processed, inbox_transaction
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from . import repository
from .reports import SOURCE
from .vendors.base import PickupJob, VendorRejected, VendorUnavailable
from .vendors.registry import AdapterRegistry, UnsupportedVendorKind

log = get_logger(__name__)

CONSUMER = "hauler-adapters"


def idempotency_key(event: Event) -> str:
    return f"haulbridge-{event.id}"


async def dispatch_booking(event: Event, *, pool: asyncpg.Pool, registry: AdapterRegistry) -> None:
    data = event.data
    booking_id = uuid.UUID(data["booking_id"])
    hauler_id = data["hauler_id"]
    key = idempotency_key(event)
    job = PickupJob(
        booking_id=str(booking_id), reference=data["reference"], pickup_date=data["pickup_date"],
        address=data["address"], items=data["items"], contact_name=data["contact"]["name"],
        contact_phone=data["contact"].get("phone"), notes=data.get("notes"), idempotency_key=key,
    )
    async with pool.acquire() as conn:
        if await already_processed(conn, event, CONSUMER):
            raise AlreadyProcessed(event.id)
        integration = await repository.get_integration(conn, hauler_id)
        await repository.record_attempt(conn, booking_id=booking_id, reference=data["reference"],
                                        hauler_id=hauler_id, pickup_date=date.fromisoformat(data["pickup_date"]),
                                        idempotency_key=key, correlation_id=event.correlationid,
                                        traceparent=event.traceparent, job=dataclasses.asdict(job))

    outcome_type, status, external_ref, reason = EventType.DISPATCH_FAILED, "failed", None, None
    try:
        if integration is None:
            raise UnsupportedVendorKind(f"no integration configured for hauler '{hauler_id}'")
        receipt = await registry.adapter_for(integration).dispatch(job)
        outcome_type, status, external_ref = EventType.DISPATCH_ACCEPTED, "accepted", receipt.external_ref
        if receipt.status == "queued":  # a batch vendor: accepted when tonight's manifest is uploaded
            outcome_type, status = None, "queued"
    except VendorRejected as exc:
        outcome_type, status, reason = EventType.DISPATCH_REJECTED, "rejected", exc.reason
    except (VendorUnavailable, UnsupportedVendorKind) as exc:
        reason = str(exc)
    failpoint("adapters.after_vendor_call")

    async with inbox_transaction(pool, event, CONSUMER) as conn:
        await repository.record_outcome(conn, booking_id=booking_id, status=status, external_ref=external_ref,
                                        error=reason)
        if outcome_type is not None:
            await add_event(conn, new_event(
                type=outcome_type, source=SOURCE, subject=str(booking_id), caused_by=event,
                data={"booking_id": str(booking_id), "hauler_id": hauler_id, "reference": data["reference"],
                      **({"hauler_reference": external_ref} if external_ref else {}),
                      **({"reason": reason} if reason else {})}))
    log.info("dispatch outcome", hauler_id=hauler_id, status=status, hauler_reference=external_ref, reason=reason)


async def pass_on_change(event: Event, *, pool: asyncpg.Pool, registry: AdapterRegistry) -> None:
    """A resident's (or staff's) cancellation or new date, told to the hauler that has the job.

    The consumer hands one booking's events over in order, so a change never overtakes the
    create it refers to. A hauler that cannot be told a change this way (no such call, or the
    job not sent yet) is noted on the dispatch for reconciliation and staff; a call that keeps
    failing raises, so the event is retried and then parked in the dead-letter topic — never
    lost. A change the hauler itself reported (``by: hauler``) is not echoed back to it.
    """
    data = event.data
    if data.get("by") == "hauler":
        return
    cancelled = event.type == EventType.BOOKING_CANCELLED
    booking_id = uuid.UUID(data["booking_id"])
    async with pool.acquire() as conn:
        if await already_processed(conn, event, CONSUMER):
            raise AlreadyProcessed(event.id)
        dispatch = await repository.find_dispatch_by_booking(conn, hauler_id=data["hauler_id"], booking_id=booking_id)
        integration = await repository.get_integration(conn, data["hauler_id"])
    told, note = False, None
    if dispatch is None or dispatch["status"] in ("failed", "rejected", "cancelled", "sending"):
        note = "nothing at the hauler to change"
    elif dispatch["status"] == "queued":  # not in a manifest yet: the next one leaves it out, or has the new date
        note = None
    else:
        adapter = registry.adapter_for(integration) if integration else None
        can = adapter is not None and (adapter.can_cancel if cancelled else adapter.can_reschedule)
        if not can:
            note = f"the hauler's system takes no {'cancellations' if cancelled else 'new dates'}; staff to call"
        else:
            try:
                if cancelled:
                    await adapter.cancel(dispatch["external_ref"], data.get("reason") or f"cancelled by {data['by']}")
                else:
                    await adapter.reschedule(dispatch["external_ref"], data["pickup_date"])
                told = True
            except VendorRejected as exc:
                note = f"the hauler refused the change: {exc.reason}"
    async with inbox_transaction(pool, event, CONSUMER) as conn:
        if cancelled and dispatch is not None:
            await repository.set_dispatch_status(conn, booking_id, "cancelled", None)
        elif dispatch is not None:
            await repository.move_dispatch(conn, booking_id, date.fromisoformat(data["pickup_date"]))
        if note and dispatch is not None:
            await repository.note_dispatch_error(conn, booking_id, note)
    log.info("change passed on to the hauler" if told else "change not passed on", hauler_id=data["hauler_id"],
             change="cancelled" if cancelled else "rescheduled", note=note)
