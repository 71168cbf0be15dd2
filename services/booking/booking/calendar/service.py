"""Availability, capacity reservation and holds. The caller owns the transaction.

No overbooking, ever: every decision about a zone and day first locks that
day's capacity row (``lock_capacity_day``), so concurrent bookings, holds and
reschedules for the same day are decided one at a time, against the exact
``booked`` count and the active holds.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from ..errors import DateNotBookable, HoldNotValid, SlotFull, SlotHeld
from ..settings import BookingSettings
from . import repository, rules


@dataclass(frozen=True)
class Window:
    earliest: date
    latest: date


def now_local(settings: BookingSettings) -> datetime:
    return datetime.now(ZoneInfo(settings.timezone))


async def bookable_window(conn: asyncpg.Connection, *, settings: BookingSettings) -> Window:
    now = now_local(settings)
    latest = rules.latest_bookable(now.date(), horizon_days=settings.horizon_days)
    holidays = await repository.city_holidays(conn, now.date(), latest)
    earliest = rules.earliest_bookable(now, lead_business_days=settings.min_lead_days,
                                       cutoff_hour=settings.lead_cutoff_hour, holidays=holidays)
    return Window(earliest=earliest, latest=latest)


def _default_pickups(defaults: dict[int, int], day: date, settings: BookingSettings) -> int:
    if defaults:
        return defaults.get(day.weekday(), 0)
    return settings.default_daily_pickups if day.weekday() < 5 else 0


async def availability(conn: asyncpg.Connection, *, zone_id: str, first: date | None, last: date | None,
                       settings: BookingSettings) -> list[dict]:
    """Dates in [first, last] inside the bookable window with their remaining pickups."""
    window = await bookable_window(conn, settings=settings)
    first = max(first or window.earliest, window.earliest)
    last = min(last or window.latest, window.latest)
    if first > last:
        return []
    blackouts = await repository.blackout_days(conn, zone_id=zone_id, first=first, last=last)
    defaults = await repository.weekday_defaults(conn, zone_id)
    rows = await repository.capacity_rows(conn, zone_id, first, last)
    holds = await repository.active_holds_by_day(conn, zone_id, first, last)
    days = []
    for day in rules.days_between(first, last):
        if day in blackouts:
            continue
        row = rows.get(day)
        pickups = row["pickups"] if row else _default_pickups(defaults, day, settings)
        remaining = pickups - (row["booked"] if row else 0) - holds.get(day, 0)
        if remaining > 0:
            days.append({"date": day, "remaining": remaining})
    return days


async def _check_date(conn: asyncpg.Connection, *, zone_id: str, day: date, settings: BookingSettings) -> None:
    window = await bookable_window(conn, settings=settings)
    if day < now_local(settings).date():
        raise DateNotBookable(f"{day.isoformat()} is in the past. The earliest date you can book is "
                              f"{window.earliest.isoformat()}.", earliest=window.earliest.isoformat())
    if day < window.earliest:
        raise DateNotBookable(f"Pickups must be booked at least {settings.min_lead_days} business day(s) ahead; "
                              f"the earliest date is {window.earliest.isoformat()}.",
                              earliest=window.earliest.isoformat())
    if day > window.latest:
        raise DateNotBookable(f"Pickups can be booked up to {settings.horizon_days} days ahead; the latest date "
                              f"is {window.latest.isoformat()}.", latest=window.latest.isoformat())
    blackouts = await repository.blackout_days(conn, zone_id=zone_id, first=day, last=day)
    if day in blackouts:
        raise DateNotBookable(f"There are no pickups on {day.isoformat()} ({blackouts[day]}).")


async def _locked_day(conn, *, zone_id: str, day: date, settings: BookingSettings):
    defaults = await repository.weekday_defaults(conn, zone_id)
    return await repository.lock_capacity_day(conn, zone_id, day, _default_pickups(defaults, day, settings))


async def next_free_dates(conn: asyncpg.Connection, *, zone_id: str, after: date, settings: BookingSettings,
                          count: int = 3) -> list[str]:
    free = await availability(conn, zone_id=zone_id, first=after + timedelta(days=1), last=None, settings=settings)
    return [d["date"].isoformat() for d in free[:count]]


async def reserve(conn: asyncpg.Connection, *, zone_id: str, address_id: str, day: date,
                  hold_id: uuid.UUID | None, settings: BookingSettings) -> None:
    """Take one pickup of the zone's day for a booking, using the resident's hold if given."""
    await _check_date(conn, zone_id=zone_id, day=day, settings=settings)
    if hold_id is not None:
        hold = await repository.get_hold(conn, hold_id)
        if hold is None or not hold["active"] or hold["zone_id"] != zone_id or hold["day"] != day \
                or hold["address_id"] != address_id:
            raise HoldNotValid("The hold is unknown, expired or for another address or date. Choose a date again.",
                               hold_id=str(hold_id))
    capacity = await _locked_day(conn, zone_id=zone_id, day=day, settings=settings)
    others = await repository.other_active_holds(conn, zone_id, day, hold_id)
    if capacity["booked"] + len(others) >= capacity["pickups"]:
        await _refuse(conn, zone_id=zone_id, day=day, capacity=capacity, others=others, settings=settings)
    await repository.change_booked(conn, zone_id, day, +1)


async def release(conn: asyncpg.Connection, *, zone_id: str, day: date, settings: BookingSettings) -> None:
    await _locked_day(conn, zone_id=zone_id, day=day, settings=settings)
    await repository.change_booked(conn, zone_id, day, -1)


async def take_for_hauler(conn: asyncpg.Connection, *, zone_id: str, day: date, settings: BookingSettings) -> bool:
    """Count a booking the hauler itself moved to ``day``; True when the city's calendar had that day full.

    The hauler decides its own routes, so its date is taken even then: the day's pickups are
    raised to what is booked, and the booked count stays exact.
    """
    capacity = await _locked_day(conn, zone_id=zone_id, day=day, settings=settings)
    over = capacity["booked"] >= capacity["pickups"]
    if over:
        await repository.set_capacity(conn, zone_id, day, capacity["booked"] + 1)
    await repository.change_booked(conn, zone_id, day, +1)
    return over


async def place_hold(conn: asyncpg.Connection, *, zone_id: str, address_id: str, day: date,
                     settings: BookingSettings) -> dict:
    await _check_date(conn, zone_id=zone_id, day=day, settings=settings)
    capacity = await _locked_day(conn, zone_id=zone_id, day=day, settings=settings)
    others = await repository.other_active_holds(conn, zone_id, day, None)
    if capacity["booked"] + len(others) >= capacity["pickups"]:
        await _refuse(conn, zone_id=zone_id, day=day, capacity=capacity, others=others, settings=settings)
    hold_id = uuid.uuid4()
    expires_at = datetime.now(ZoneInfo("UTC")) + timedelta(minutes=settings.hold_minutes)
    await repository.insert_hold(conn, id=hold_id, zone_id=zone_id, day=day, address_id=address_id,
                                 expires_at=expires_at)
    return {"id": hold_id, "date": day, "expires_at": expires_at}


async def use_hold(conn: asyncpg.Connection, *, hold_id: uuid.UUID, booking_id: uuid.UUID) -> None:
    await repository.release_hold(conn, hold_id, booking_id)


async def _refuse(conn, *, zone_id: str, day: date, capacity, others, settings: BookingSettings):
    alternatives = await next_free_dates(conn, zone_id=zone_id, after=day, settings=settings)
    if others and capacity["booked"] < capacity["pickups"]:
        frees_at = others[0]["expires_at"]
        raise SlotHeld(f"The last pickup on {day.isoformat()} is held by another resident until "
                       f"{frees_at.isoformat()}; it frees then if they do not book.",
                       frees_at=frees_at.isoformat(), next_free_dates=alternatives)
    raise SlotFull(f"{day.isoformat()} is fully booked.", next_free_dates=alternatives)
