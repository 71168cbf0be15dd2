"""Booking service functions. The caller owns the transaction; nothing here commits on its own."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from haulbridge_runtime.envelope import Event, new_event, new_traceparent
from haulbridge_runtime.logs import get_logger, mask_email, mask_phone
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from ..catalogue import repository as catalogue
from ..errors import BookingNotFound, DateNotBookable, ItemsNotAccepted
from ..lifecycle import Decision, Status, decide
from ..places import service as places
from ..settings import BookingSettings
from . import repository
from .schemas import BookingRequest

log = get_logger(__name__)

SOURCE = "/haulbridge/booking"


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def check_pickup_date(pickup_date: date, *, settings: BookingSettings) -> None:
    today = today_in(settings.timezone)
    earliest = today + timedelta(days=settings.min_lead_days)
    latest = today + timedelta(days=settings.horizon_days)
    if pickup_date < today:
        raise DateNotBookable(f"{pickup_date.isoformat()} is in the past. Choose a date from "
                              f"{earliest.isoformat()} on.", earliest=earliest.isoformat())
    if pickup_date < earliest:
        raise DateNotBookable(f"Pickups must be booked at least {settings.min_lead_days} day(s) ahead; the "
                              f"earliest date is {earliest.isoformat()}.", earliest=earliest.isoformat())
    if pickup_date > latest:
        raise DateNotBookable(f"Pickups can be booked up to {settings.horizon_days} days ahead; the latest "
                              f"date is {latest.isoformat()}.", latest=latest.isoformat())


async def _priced_items(conn: asyncpg.Connection, request: BookingRequest, *, settings: BookingSettings) -> list[dict]:
    codes = [line.item for line in request.items]
    known = await catalogue.items_by_code(conn, codes)
    problems: list[dict] = []
    total = 0
    quantities: dict[str, int] = {}
    for line in request.items:
        quantities[line.item] = quantities.get(line.item, 0) + line.quantity
    for code, quantity in quantities.items():
        item = known.get(code)
        total += quantity
        if item is None:
            problems.append({"item": code, "reason": "not in the item catalogue (see GET /v1/items)"})
        elif not item["accepted"]:
            problems.append({"item": code, "reason": "not accepted for junk pickup",
                             "alternative": item["alternative"]})
        elif item["max_per_booking"] is not None and quantity > item["max_per_booking"]:
            problems.append({"item": code, "reason": f"at most {item['max_per_booking']} per pickup"})
    if total > settings.max_items_per_booking:
        problems.append({"item": None, "reason": f"at most {settings.max_items_per_booking} items per pickup; "
                                                 f"this booking has {total}"})
    if problems:
        raise ItemsNotAccepted("Some items cannot be collected as requested.", items=problems)
    return [{"item": code, "label": known[code]["label_en"], "quantity": q} for code, q in quantities.items()]


async def create_booking(
    conn: asyncpg.Connection, *, request: BookingRequest, settings: BookingSettings,
    correlation_id: str | None = None, traceparent: str | None = None,
) -> uuid.UUID:
    """Validate, store the booking and its first history step, and stage ``booking.requested``."""
    check_pickup_date(request.pickup_date, settings=settings)
    point = await places.resolve(conn, address=request.address)
    items = await _priced_items(conn, request, settings=settings)

    booking_id = uuid.uuid4()
    correlation = uuid.UUID(correlation_id) if correlation_id else uuid.uuid4()
    number = await repository.next_reference_number(conn)
    reference = f"JP-{request.pickup_date.year}-{number:06d}"
    target_date = request.pickup_date
    contact = request.contact.model_dump(mode="json")
    await repository.insert_booking(
        conn, id=booking_id, reference=reference, status=Status.REQUESTED, address_id=point.address_id,
        zone_id=point.zone_id, hauler_id=point.hauler_id, pickup_date=request.pickup_date,
        target_date=target_date, items=items, contact=contact, channel=request.channel,
        notes=request.notes, correlation_id=correlation,
    )
    event = new_event(
        type=EventType.BOOKING_REQUESTED,
        source=SOURCE,
        subject=str(booking_id),
        correlation_id=str(correlation),
        traceparent=traceparent or new_traceparent(),
        data={
            "booking_id": str(booking_id),
            "reference": reference,
            "hauler_id": point.hauler_id,
            "zone_id": point.zone_id,
            "pickup_date": request.pickup_date.isoformat(),
            "target_date": target_date.isoformat(),
            "address": {"text": point.address, "latitude": point.latitude, "longitude": point.longitude},
            "items": items,
            "contact": contact,
            "notes": request.notes,
            "channel": request.channel,
            "manage_url": f"{settings.public_base_url}/v1/bookings/{booking_id}",
        },
    )
    await repository.add_history(
        conn, booking_id=booking_id, step="received", from_status=None, to_status=Status.REQUESTED,
        outcome="applied", source=f"resident:{request.channel}", event_id=event.id, event_type=event.type,
    )
    await add_event(conn, event)
    log.info("booking received", booking_id=str(booking_id), reference=reference, hauler_id=point.hauler_id)
    return booking_id


# What each hauler report means for the booking, and the timeline step it shows as.
HAULER_REPORTS: dict[str, tuple[Status, str]] = {
    EventType.DISPATCH_ACCEPTED: (Status.DISPATCHED, "sent_to_hauler"),
    EventType.DISPATCH_REJECTED: (Status.REJECTED, "rejected_by_hauler"),
    EventType.DISPATCH_FAILED: (Status.DISPATCH_FAILED, "dispatch_failed"),
    EventType.PICKUP_CONFIRMED: (Status.CONFIRMED, "confirmed"),
    EventType.PICKUP_COMPLETED: (Status.COMPLETED, "completed"),
}


async def apply_hauler_report(conn: asyncpg.Connection, *, event: Event) -> Decision:
    """Move the booking on for a report from its hauler (via the adapters), or note it as stale/refused."""
    target, step = HAULER_REPORTS[event.type]
    booking_id = uuid.UUID(event.data["booking_id"])
    booking = await repository.lock_booking(conn, booking_id)
    if booking is None:
        raise BookingNotFound(f"hauler report for unknown booking {booking_id}")
    current = Status(booking["status"])
    decision = decide(current, target)
    source = f"hauler:{event.data.get('hauler_id', booking['hauler_id'])}"
    detail = {k: v for k, v in event.data.items() if k in ("hauler_reference", "reason", "window", "completed_at")}
    if decision is Decision.APPLY:
        await repository.set_status(conn, booking_id, target, hauler_ref=event.data.get("hauler_reference"))
    else:
        log.warning("hauler report not applied", decision=decision.value, current=current, target=target)
    await repository.add_history(
        conn, booking_id=booking_id, step=step, from_status=current,
        to_status=target if decision is Decision.APPLY else current,
        outcome={Decision.APPLY: "applied", Decision.STALE: "stale", Decision.ILLEGAL: "refused"}[decision],
        source=source, event_id=event.id, event_type=event.type, detail=detail,
    )
    return decision


async def get_view(conn: asyncpg.Connection, *, key: str) -> dict:
    try:
        row = await repository.get_booking(conn, booking_id=uuid.UUID(key))
    except ValueError:
        row = await repository.get_booking(conn, reference=key.upper())
    if row is None:
        raise BookingNotFound(f"No booking '{key}'.")
    steps = await repository.history(conn, row["id"])
    contact = row["contact"]
    return {
        "id": row["id"],
        "reference": row["reference"],
        "status": row["status"],
        "address": row["address"],
        "zone": row["zone_name"],
        "hauler": row["hauler_name"],
        "pickup_date": row["pickup_date"],
        "target_date": row["target_date"],
        "items": row["items"],
        "contact": {**contact, "email": mask_email(contact.get("email")), "phone": mask_phone(contact.get("phone"))},
        "channel": row["channel"],
        "notes": row["notes"],
        "hauler_reference": row["hauler_ref"],
        "created_at": row["created_at"],
        "timeline": [
            {"at": s["at"], "step": s["step"], "status": s["to_status"], "outcome": s["outcome"],
             "source": s["source"], "detail": s["detail"]}
            for s in steps
        ],
    }
