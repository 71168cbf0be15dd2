"""Events into the ops read model: every event of every topic becomes a step of its booking's
flow, and moves the booking's row on; dead-letter records become rows staff can repair.

Each event is projected once (its id is the key of ``flow_events``), in one transaction with its
effects, so a replay after a crash changes nothing. Residents' contact details stay out: the
booking's phone number is kept only as a keyed hash for search, names and emails not at all.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime

from haulbridge_runtime import topics
from haulbridge_runtime.consumer import CURRENT_RECORD
from haulbridge_runtime.envelope import Event, trace_id_of
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.topics import EventType

from . import repository

log = get_logger(__name__)

T = EventType

# A booking's status after each event, in the booking service's words.
STATUS_AFTER = {
    T.BOOKING_REQUESTED: "requested",
    T.DISPATCH_ACCEPTED: "dispatched",
    T.DISPATCH_REJECTED: "rejected",
    T.DISPATCH_FAILED: "dispatch_failed",
    T.PICKUP_CONFIRMED: "confirmed",
    T.PICKUP_RESCHEDULED: "confirmed",
    T.PICKUP_COMPLETED: "completed",
    T.PICKUP_MISSED: "missed",
    T.BOOKING_CANCELLED: "cancelled",
}
# Forward only: a late "confirmed" never undoes "completed" (a correction by staff may).
RANK = {"requested": 0, "dispatched": 1, "dispatch_failed": 1, "confirmed": 2,
        "completed": 3, "rejected": 3, "missed": 3, "cancelled": 3}
# What never goes into the read model.
PRIVATE_FIELDS = ("contact", "manage_url", "comment", "details", "photos")


def phone_key(phone: str | None, key: bytes) -> str | None:
    """The keyed hash of a phone number's last ten digits (the city's numbers are North American)."""
    digits = re.sub(r"\D", "", phone or "")[-10:]
    if len(digits) < 7:
        return None
    return hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()


def summary_of(event: Event) -> str:
    d = event.data
    hauler = d.get("hauler_id") or ""
    match event.type:
        case T.BOOKING_REQUESTED:
            return f"Booked through {d.get('channel', '?')} for {d.get('pickup_date')} ({hauler})"
        case T.BOOKING_RESCHEDULED:
            return f"New date {d.get('pickup_date')} (was {d.get('previous_pickup_date')}, by {d.get('by')})"
        case T.BOOKING_CANCELLED:
            return f"Cancelled by {d.get('by')}" + (f": {d['reason']}" if d.get("reason") else "")
        case T.BOOKING_FEEDBACK_RECEIVED:
            return f"Resident rated the pickup {d.get('rating')}/5"
        case T.BOOKING_MISSED_REPORTED:
            return "Resident reported the pickup missed"
        case T.BOOKING_STATUS_CORRECTED:
            return f"Status corrected {d.get('from_status')} → {d.get('to_status')} by {d.get('by')}: {d.get('reason')}"
        case T.DISPATCH_ACCEPTED:
            return f"{hauler} took the job (their ref {d.get('hauler_reference')})"
        case T.DISPATCH_REJECTED:
            return f"{hauler} refused the job: {d.get('reason')}"
        case T.DISPATCH_FAILED:
            return f"Could not reach {hauler}: {d.get('reason')}"
        case T.PICKUP_CONFIRMED:
            return f"{hauler} confirmed the pickup for {d.get('pickup_date')}"
        case T.PICKUP_RESCHEDULED:
            return f"{hauler} moved the pickup to {d.get('pickup_date')}" + (f": {d['reason']}" if d.get("reason")
                                                                               else "")
        case T.PICKUP_COMPLETED:
            return f"{hauler} completed the pickup"
        case T.PICKUP_MISSED:
            return f"{hauler} missed the pickup: {d.get('reason')}"
        case T.DISCREPANCY_FOUND:
            return f"Reconciliation with {hauler}: {d.get('kind')} → {d.get('action')}"
        case T.NOTIFICATION_SENT:
            return f"Resident told by {d.get('channel')}: {d.get('kind')}"
        case T.ITEMS_OUT_CONFIRMED:
            return "Resident confirmed the items are out"
    return topics.short_name(event.type)


def _public(data: dict) -> dict:
    public = {k: v for k, v in data.items() if k not in PRIVATE_FIELDS}
    if isinstance(public.get("address"), dict):
        public["address"] = {"text": public["address"].get("text")}
    return public


def _day(value) -> date | None:
    return date.fromisoformat(value) if value else None


class Projection:
    def __init__(self, pool, *, contact_hash_key: bytes) -> None:
        self.pool = pool
        self.key = contact_hash_key

    async def handle(self, event: Event) -> None:
        record = CURRENT_RECORD.get()
        if record is not None and record.topic.endswith(topics.DLQ_SUFFIX):
            await self.parked(event, record)
        else:
            await self.project(event)

    async def project(self, event: Event) -> None:
        d = event.data
        async with self.pool.acquire() as conn, conn.transaction():
            new = await repository.add_flow_event(
                conn, event_id=event.id, topic=event.topic, event_type=event.type, booking_id=event.subject,
                source=event.source, occurred_at=event.time, correlation_id=event.correlationid,
                trace_id=trace_id_of(event.traceparent), summary=summary_of(event), data=_public(d))
            if not new:
                return  # seen before: its effects are already here
            if event.type == T.BOOKING_REQUESTED:
                contact = d.get("contact") or {}
                await repository.booking_requested(
                    conn, booking_id=event.subject, reference=d.get("reference"), hauler_id=d.get("hauler_id"),
                    zone_id=d.get("zone_id"), channel=d.get("channel"), language=contact.get("language"),
                    address=(d.get("address") or {}).get("text"), phone_hash=phone_key(contact.get("phone"), self.key),
                    requested_at=event.time, pickup_date=_day(d.get("pickup_date")),
                    target_date=_day(d.get("target_date")), trace_id=trace_id_of(event.traceparent),
                    correlation_id=event.correlationid)
            elif event.type == T.DISCREPANCY_FOUND:
                await repository.add_discrepancy(conn, event_id=event.id, data=d, found_at=event.time)
                return
            if event.type in STATUS_AFTER:
                status = STATUS_AFTER[event.type]
                completed_at = None
                if status == "completed":
                    completed_at = datetime.fromisoformat(d["completed_at"]) if d.get("completed_at") else event.time
                await repository.move_booking(conn, event.subject, status=status, rank=RANK[status], ranks=RANK,
                                              completed_at=completed_at)
            if event.type in (T.BOOKING_RESCHEDULED, T.PICKUP_RESCHEDULED, T.PICKUP_CONFIRMED) and d.get("pickup_date"):
                await repository.set_dates(conn, event.subject, pickup_date=_day(d["pickup_date"]),
                                           target_date=_day(d.get("target_date")))
            elif event.type == T.BOOKING_STATUS_CORRECTED:
                await repository.correct_status(conn, event.subject, status=d["to_status"])
            elif event.type == T.BOOKING_FEEDBACK_RECEIVED:
                await repository.set_rating(conn, event.subject, rating=d.get("rating"))
            elif event.type == T.BOOKING_MISSED_REPORTED:
                await repository.missed_reported(conn, event.subject)

    async def parked(self, event: Event, record) -> None:
        h = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
        failed_at = h.get("dlq-failed-at")
        async with self.pool.acquire() as conn:
            await repository.add_dead_letter(
                conn, dlq_topic=record.topic, partition=record.partition,
                offset=record.offset, original_topic=h.get("dlq-original-topic"), consumer=h.get("dlq-consumer"),
                event_id=event.id, event_type=event.type, booking_id=event.subject, error=h.get("dlq-error"),
                attempts=int(h.get("dlq-attempts") or 0),
                failed_at=datetime.fromisoformat(failed_at) if failed_at else None)
        log.info("dead letter seen", dlq_topic=record.topic, partition=record.partition, offset=record.offset,
                 consumer=h.get("dlq-consumer"))
