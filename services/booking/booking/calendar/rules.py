"""The city's date rules as pure functions (property-tested with hypothesis).

- Lead time: a pickup is booked at least N *business* days ahead (weekends and
  city holidays do not count); after the cut-off hour, today no longer counts.
- Horizon: no further than H calendar days ahead.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta


def is_business_day(day: date, holidays: frozenset[date] | set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def earliest_bookable(now_local: datetime, *, lead_business_days: int, cutoff_hour: int,
                      holidays: frozenset[date] | set[date]) -> date:
    """The first date a resident may choose, given the city's local time now."""
    start = now_local.date()
    if now_local.hour >= cutoff_hour:
        start += timedelta(days=1)  # after the cut-off, today's request counts from tomorrow
    day, counted = start, 0
    while counted < lead_business_days:
        day += timedelta(days=1)
        if is_business_day(day, holidays):
            counted += 1
    return day


def latest_bookable(today: date, *, horizon_days: int) -> date:
    return today + timedelta(days=horizon_days)


def days_between(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
