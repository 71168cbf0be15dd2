"""Booking service functions. The caller owns the transaction; nothing here commits on its own."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from haulbridge_runtime.envelope import Event, new_event
from haulbridge_runtime.logs import get_logger, mask_email, mask_phone
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from ..calendar import rules
from ..calendar import repository as calendar_repository
from ..calendar import service as calendar
from ..catalogue import repository as catalogue
from ..errors import (AddressNotEligible, BookingNotFound, ChangeClosed, IdempotencyKeyReused, IllegalTransition,
                      ItemsNotAccepted, QuotaExceeded)
from ..lifecycle import TERMINAL, Decision, Status, decide
from ..photos import service as photos
from ..places import service as places
from ..settings import BookingSettings
from . import repository, tokens
from .schemas import BookingRequest

log = get_logger(__name__)

SOURCE = "/haulbridge/booking"


def request_hash(request: BookingRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _priced_items(conn: asyncpg.Connection, request: BookingRequest, *, settings: BookingSettings) -> list[dict]:
    quantities: dict[str, int] = {}
    for line in request.items:
        quantities[line.item] = quantities.get(line.item, 0) + line.quantity
    known = await catalogue.items_by_code(conn, list(quantities))
    problems: list[dict] = []
    for code, quantity in quantities.items():
        item = known.get(code)
        if item is None:
            problems.append({"item": code, "reason": "not in the item catalogue (see GET /v1/items)"})
        elif not item["accepted"]:
            problems.append({"item": code, "reason": "not accepted for junk pickup",
                             "alternative": item["alternative"]})
        elif item["max_per_booking"] is not None and quantity > item["max_per_booking"]:
            problems.append({"item": code, "reason": f"at most {item['max_per_booking']} per pickup"})
    total = sum(quantities.values())
    if total > settings.max_items_per_booking:
        problems.append({"item": None, "reason": f"at most {settings.max_items_per_booking} items per pickup; "
                                                 f"this booking has {total}"})
    if problems:
        raise ItemsNotAccepted("Some items cannot be collected as requested.", items=problems)
    return [{"item": code, "label": known[code]["label_en"], "quantity": q} for code, q in quantities.items()]


async def _check_quota(conn: asyncpg.Connection, *, address_id: str, pickup_date: date,
                       settings: BookingSettings) -> None:
    if settings.household_quota_per_year is None:
        return
    used = await repository.household_bookings_in_year(conn, address_id, pickup_date.year)
    if used >= settings.household_quota_per_year:
        raise QuotaExceeded(f"This address has used its {settings.household_quota_per_year} free pickup(s) for "
                            f"{pickup_date.year}.", quota=settings.household_quota_per_year, used=used)


async def find_idempotent(conn: asyncpg.Connection, *, key: str, request: BookingRequest) -> uuid.UUID | None:
    """The booking an earlier request with this key made, or None; a different body is refused."""
    row = await repository.idempotency_key(conn, key)
    if row is None:
        return None
    if row["request_hash"] != request_hash(request):
        raise IdempotencyKeyReused("This Idempotency-Key was already used for a different booking request.")
    return row["booking_id"]


async def create_booking(
    conn: asyncpg.Connection, *, request: BookingRequest, settings: BookingSettings,
    idempotency_key: str | None = None, correlation_id: str | None = None, traceparent: str | None = None,
) -> dict:
    """Validate, take capacity (and quota), store the booking and its first step, stage ``booking.requested``.

    Returns the booking as the resident sees it (the view of ``GET /v1/bookings/{ref}``), made from
    what was just written rather than read back.
    """
    point = await places.resolve(conn, address=request.address)
    if point.land_use not in settings.eligible_land_uses:
        raise AddressNotEligible(f"Junk pickup is offered to {', '.join(settings.eligible_land_uses)} homes; "
                                 f"'{point.address}' is recorded as {point.land_use}.")
    items = await _priced_items(conn, request, settings=settings)
    booking_id = uuid.uuid4()
    if idempotency_key is not None:
        # First, so a concurrent retry with the same key waits here for this transaction and then
        # fails on the primary key (and is answered with this booking), rather than racing for capacity.
        await repository.insert_idempotency_key(conn, key=idempotency_key, request_hash=request_hash(request),
                                                booking_id=booking_id)
    # The household's row lock serialises its bookings, so the quota count is exact.
    await repository.lock_household(conn, point.address_id)
    await _check_quota(conn, address_id=point.address_id, pickup_date=request.pickup_date, settings=settings)
    await calendar.reserve(conn, zone_id=point.zone_id, address_id=point.address_id, day=request.pickup_date,
                           hold_id=request.hold_id, settings=settings)

    if request.hold_id is not None:
        await calendar.use_hold(conn, hold_id=request.hold_id, booking_id=booking_id)
    correlation = uuid.UUID(correlation_id) if correlation_id else uuid.uuid4()
    number = await repository.next_reference_number(conn)
    reference = f"JP-{request.pickup_date.year}-{number:06d}"
    target_date = request.pickup_date
    contact = request.contact.model_dump(mode="json")
    created_at = await repository.insert_booking(
        conn, id=booking_id, reference=reference, status=Status.REQUESTED, address_id=point.address_id,
        zone_id=point.zone_id, hauler_id=point.hauler_id, pickup_date=request.pickup_date,
        target_date=target_date, items=items, contact=contact, channel=request.channel,
        notes=request.notes, correlation_id=correlation, hold_id=request.hold_id,
    )
    event = new_event(
        type=EventType.BOOKING_REQUESTED, source=SOURCE, subject=str(booking_id),
        # the request's span when tracing is on, else the caller's traceparent, else a new trace
        correlation_id=str(correlation), traceparent=traceparent,
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
            "manage_url": manage_url(booking_id, reference, settings=settings),
        },
    )
    photo_links = await photos.attach(conn, photo_ids=request.photo_ids, booking_id=booking_id, settings=settings)
    if photo_links:
        event = event.model_copy(update={"data": {**event.data, "photos": photo_links}})
    received = await repository.add_history(
        conn, booking_id=booking_id, step="received", from_status=None, to_status=Status.REQUESTED,
        outcome="applied", source=f"resident:{request.channel}", event_id=event.id, event_type=event.type,
    )
    await add_event(conn, event)
    log.info("booking received", booking_id=str(booking_id), reference=reference, hauler_id=point.hauler_id)
    row = {"id": booking_id, "reference": reference, "status": Status.REQUESTED, "address": point.address,
           "zone_name": point.zone_name, "hauler_name": point.hauler_name, "pickup_date": request.pickup_date,
           "target_date": target_date, "items": items, "contact": contact, "channel": request.channel,
           "notes": request.notes, "hauler_ref": None, "created_at": created_at}
    return _present(row, [received], settings=settings)


def manage_url(booking_id: uuid.UUID, reference: str, *, settings: BookingSettings) -> str:
    token = tokens.issue(booking_id, secret=settings.manage_token_secret)
    return f"{settings.public_base_url}/v1/bookings/{reference}?token={token}"


# How a hauler report's decision shows in the booking's timeline.
OUTCOME = {Decision.APPLY: "applied", Decision.STALE: "stale", Decision.ILLEGAL: "refused"}

# What each hauler report means for the booking, and the timeline step it shows as.
HAULER_REPORTS: dict[str, tuple[Status, str]] = {
    EventType.DISPATCH_ACCEPTED: (Status.DISPATCHED, "sent_to_hauler"),
    EventType.DISPATCH_REJECTED: (Status.REJECTED, "rejected_by_hauler"),
    EventType.DISPATCH_FAILED: (Status.DISPATCH_FAILED, "dispatch_failed"),
    EventType.PICKUP_CONFIRMED: (Status.CONFIRMED, "confirmed"),
    EventType.PICKUP_COMPLETED: (Status.COMPLETED, "completed"),
    EventType.PICKUP_MISSED: (Status.MISSED, "missed_by_hauler"),
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
        outcome=OUTCOME[decision],
        source=source, event_id=event.id, event_type=event.type, detail=detail,
    )
    return decision


async def apply_hauler_reschedule(conn: asyncpg.Connection, *, event: Event, settings: BookingSettings) -> Decision:
    """The hauler moved the pickup: the city records the hauler's date, moves the capacity and tells everyone.

    The hauler's date is a fact, not a request: it is recorded even when the city's calendar
    shows that day full (the day's capacity is raised to what is booked, so counts stay
    exact, and the timeline says so). A report for a booking that is already closed, or that
    names the date the booking already has (the same report again), changes nothing and is noted.
    """
    booking_id = uuid.UUID(event.data["booking_id"])
    booking = await repository.lock_booking(conn, booking_id)
    if booking is None:
        raise BookingNotFound(f"hauler report for unknown booking {booking_id}")
    current = Status(booking["status"])
    old, new = booking["pickup_date"], date.fromisoformat(event.data["pickup_date"])
    source = f"hauler:{event.data.get('hauler_id', booking['hauler_id'])}"
    detail = {"from": old.isoformat(), "to": new.isoformat(),
              **{k: v for k, v in event.data.items() if k in ("hauler_reference", "reason", "window")}}
    if current in TERMINAL or new == old:
        decision = Decision.ILLEGAL if current in TERMINAL else Decision.STALE
        log.warning("hauler reschedule not applied", decision=decision.value, current=current, to=new.isoformat())
    else:
        decision = Decision.APPLY
        # Both days locked in date order, as a resident's reschedule does, so the two cannot deadlock.
        for day in sorted((old, new)):
            if day == old:
                await calendar.release(conn, zone_id=booking["zone_id"], day=old, settings=settings)
            elif await calendar.take_for_hauler(conn, zone_id=booking["zone_id"], day=new, settings=settings):
                detail["over_city_capacity"] = True
        await repository.set_pickup_date(conn, booking_id, new, target_date=new)
        await add_event(conn, _event(booking, EventType.BOOKING_RESCHEDULED, {
            "previous_pickup_date": old.isoformat(), "pickup_date": new.isoformat(), "target_date": new.isoformat(),
            "by": "hauler", "reason": event.data.get("reason")}))
    await repository.add_history(
        conn, booking_id=booking_id, step="rescheduled_by_hauler", from_status=current, to_status=current,
        outcome=OUTCOME[decision],
        source=source, event_id=event.id, event_type=event.type, detail=detail,
    )
    return decision


# -- the resident manages the booking with the signed link ------------------------------------------------

async def _managed(conn: asyncpg.Connection, *, key: str, token: str | None, settings: BookingSettings,
                   lock: bool = False) -> asyncpg.Record:
    row = await _find(conn, key)
    tokens.verify(token, row["id"], secret=settings.manage_token_secret)
    if lock:
        row = await repository.lock_booking(conn, row["id"])
    return row


def _city_time(day: date, hour: int, settings: BookingSettings) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(settings.timezone))


def _change_deadline(pickup_date: date, settings: BookingSettings) -> datetime:
    return _city_time(pickup_date - timedelta(days=1), settings.change_cutoff_hour_day_before, settings)


def _check_change_window(booking: asyncpg.Record, settings: BookingSettings, what: str) -> None:
    deadline = _change_deadline(booking["pickup_date"], settings)
    if calendar.now_local(settings) >= deadline:
        raise ChangeClosed(f"Bookings can be {what} until {deadline.strftime('%H:%M on %A %-d %B')}; "
                           "please call 311 for help.", deadline=deadline.isoformat())


def _transition(booking: asyncpg.Record, target: Status) -> Status:
    current = Status(booking["status"])
    if decide(current, target) is not Decision.APPLY:
        raise IllegalTransition(f"A booking that is {current} cannot be {target}.", current_status=current,
                                requested_status=target)
    return current


def _event(booking: asyncpg.Record, event_type: str, data: dict) -> Event:
    return new_event(type=event_type, source=SOURCE, subject=str(booking["id"]),
                     correlation_id=str(booking["correlation_id"]),
                     data={"booking_id": str(booking["id"]), "reference": booking["reference"],
                           "hauler_id": booking["hauler_id"], **data})


async def cancel(conn: asyncpg.Connection, *, key: str, token: str | None, settings: BookingSettings,
                 reason: str | None = None) -> uuid.UUID:
    booking = await _managed(conn, key=key, token=token, settings=settings, lock=True)
    current = _transition(booking, Status.CANCELLED)
    _check_change_window(booking, settings, "cancelled")
    await calendar.release(conn, zone_id=booking["zone_id"], day=booking["pickup_date"], settings=settings)
    await repository.set_status(conn, booking["id"], Status.CANCELLED)
    event = _event(booking, EventType.BOOKING_CANCELLED,
                   {"pickup_date": booking["pickup_date"].isoformat(), "by": "resident", "reason": reason})
    await repository.add_history(conn, booking_id=booking["id"], step="cancelled", from_status=current,
                                 to_status=Status.CANCELLED, outcome="applied", source="resident",
                                 event_id=event.id, event_type=event.type, detail={"reason": reason} if reason else {})
    await add_event(conn, event)
    return booking["id"]


async def reschedule(conn: asyncpg.Connection, *, key: str, token: str | None, settings: BookingSettings,
                     pickup_date: date, hold_id: uuid.UUID | None) -> uuid.UUID:
    booking = await _managed(conn, key=key, token=token, settings=settings, lock=True)
    current = Status(booking["status"])
    if current in (Status.COMPLETED, Status.CANCELLED, Status.REJECTED):
        raise IllegalTransition(f"A booking that is {current} cannot be rescheduled.", current_status=current)
    _check_change_window(booking, settings, "rescheduled")
    old = booking["pickup_date"]
    if pickup_date == old:
        return booking["id"]
    if pickup_date.year != old.year:
        # The quota counts pickups per calendar year: moving into another year uses that year's quota.
        await repository.lock_household(conn, booking["address_id"])
        await _check_quota(conn, address_id=booking["address_id"], pickup_date=pickup_date, settings=settings)
    # Lock both days in date order so two reschedules crossing each other cannot deadlock.
    first, second = sorted([(old, "release"), (pickup_date, "reserve")])
    for day, action in (first, second):
        if action == "reserve":
            await calendar.reserve(conn, zone_id=booking["zone_id"], address_id=booking["address_id"], day=day,
                                   hold_id=hold_id, settings=settings)
        else:
            await calendar.release(conn, zone_id=booking["zone_id"], day=day, settings=settings)
    if hold_id is not None:
        await calendar.use_hold(conn, hold_id=hold_id, booking_id=booking["id"])
    await repository.set_pickup_date(conn, booking["id"], pickup_date, target_date=pickup_date)
    event = _event(booking, EventType.BOOKING_RESCHEDULED, {
        "previous_pickup_date": old.isoformat(), "pickup_date": pickup_date.isoformat(),
        "target_date": pickup_date.isoformat(), "by": "resident"})
    await repository.add_history(conn, booking_id=booking["id"], step="rescheduled", from_status=current,
                                 to_status=current, outcome="applied", source="resident", event_id=event.id,
                                 event_type=event.type, detail={"from": old.isoformat(), "to": pickup_date.isoformat()})
    await add_event(conn, event)
    return booking["id"]


async def give_feedback(conn: asyncpg.Connection, *, key: str, token: str | None, settings: BookingSettings,
                        rating: int, comment: str | None) -> uuid.UUID:
    booking = await _managed(conn, key=key, token=token, settings=settings, lock=True)
    if booking["status"] != Status.COMPLETED:
        raise IllegalTransition("Feedback can be given once the pickup is completed.",
                                current_status=booking["status"])
    if not await repository.insert_feedback(conn, booking["id"], rating, comment):
        raise ChangeClosed("This pickup has already been rated; thank you.")
    event = _event(booking, EventType.BOOKING_FEEDBACK_RECEIVED, {"rating": rating, "comment": comment})
    await repository.add_history(conn, booking_id=booking["id"], step="rated", from_status=booking["status"],
                                 to_status=booking["status"], outcome="applied", source="resident",
                                 event_id=event.id, event_type=event.type, detail={"rating": rating})
    await add_event(conn, event)
    return booking["id"]


async def report_missed(conn: asyncpg.Connection, *, key: str, token: str | None, settings: BookingSettings,
                        details: str | None) -> uuid.UUID:
    booking = await _managed(conn, key=key, token=token, settings=settings, lock=True)
    now = calendar.now_local(settings)
    pickup = booking["pickup_date"]
    if now.date() <= pickup:
        raise ChangeClosed("A missed pickup can be reported after the pickup day.")
    holidays = await calendar_repository.city_holidays(conn, pickup, pickup + timedelta(days=14))
    next_business = pickup + timedelta(days=1)
    while not rules.is_business_day(next_business, holidays):
        next_business += timedelta(days=1)
    deadline = _city_time(next_business, settings.missed_report_cutoff_hour, settings)
    if now >= deadline:
        raise ChangeClosed(f"Missed pickups can be reported until {deadline.strftime('%H:%M on %A %-d %B')}.",
                           deadline=deadline.isoformat())
    current = _transition(booking, Status.MISSED)
    await repository.set_status(conn, booking["id"], Status.MISSED)
    event = _event(booking, EventType.BOOKING_MISSED_REPORTED, {"pickup_date": pickup.isoformat(), "details": details})
    await repository.add_history(conn, booking_id=booking["id"], step="missed_reported", from_status=current,
                                 to_status=Status.MISSED, outcome="applied", source="resident", event_id=event.id,
                                 event_type=event.type, detail={"details": details} if details else {})
    await add_event(conn, event)
    return booking["id"]


async def correct_status(conn: asyncpg.Connection, *, key: str, target: Status, reason: str, actor: str,
                         settings: BookingSettings) -> uuid.UUID:
    """Staff put a booking right by hand. The state machine still decides; cancelling returns capacity."""
    booking = await repository.lock_booking(conn, (await _find(conn, key))["id"])
    current = _transition(booking, target)
    if target == Status.CANCELLED:
        await calendar.release(conn, zone_id=booking["zone_id"], day=booking["pickup_date"], settings=settings)
        event = _event(booking, EventType.BOOKING_CANCELLED, {"pickup_date": booking["pickup_date"].isoformat(),
                                                               "by": "staff", "reason": reason})
    else:
        event = _event(booking, EventType.BOOKING_STATUS_CORRECTED, {
            "from_status": current, "to_status": target, "reason": reason, "by": actor})
    await repository.set_status(conn, booking["id"], target)
    await repository.add_history(conn, booking_id=booking["id"], step="corrected_by_staff", from_status=current,
                                 to_status=target, outcome="applied", source=f"staff:{actor}", event_id=event.id,
                                 event_type=event.type, detail={"reason": reason})
    await add_event(conn, event)
    return booking["id"]


async def get_staff_view(conn: asyncpg.Connection, *, key: str, settings: BookingSettings) -> dict:
    """What a call-centre agent sees: the booking with its contact details unmasked."""
    row = await _find(conn, key)
    view = await _view(conn, row, settings=settings)
    view["contact"] = row["contact"]
    return view


# -- views ------------------------------------------------------------------------------------------

async def _find(conn: asyncpg.Connection, key: str) -> asyncpg.Record:
    try:
        row = await repository.get_booking(conn, booking_id=uuid.UUID(key))
    except ValueError:
        row = await repository.get_booking(conn, reference=key.upper())
    if row is None:
        raise BookingNotFound(f"No booking '{key}'.")
    return row


async def get_managed_view(conn: asyncpg.Connection, *, key: str, token: str | None,
                           settings: BookingSettings) -> dict:
    row = await _find(conn, key)
    tokens.verify(token, row["id"], secret=settings.manage_token_secret)
    return await _view(conn, row, settings=settings)


async def get_view(conn: asyncpg.Connection, *, booking_id: uuid.UUID, settings: BookingSettings) -> dict:
    return await _view(conn, await _find(conn, str(booking_id)), settings=settings)


async def _view(conn: asyncpg.Connection, row: asyncpg.Record, *, settings: BookingSettings) -> dict:
    return _present(row, await repository.history(conn, row["id"]), settings=settings)


def _present(row: Mapping, steps: list[Mapping], *, settings: BookingSettings) -> dict:
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
        "manage_url": manage_url(row["id"], row["reference"], settings=settings),
        "change_deadline": _change_deadline(row["pickup_date"], settings),
        "timeline": [
            {"at": s["at"], "step": s["step"], "status": s["to_status"], "outcome": s["outcome"],
             "source": s["source"], "detail": s["detail"]}
            for s in steps
        ],
    }
