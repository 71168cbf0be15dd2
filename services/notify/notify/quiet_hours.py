"""No texts at night: SMS between ``NOTIFY_SMS_QUIET_FROM_HOUR`` (21:00) and
``NOTIFY_SMS_QUIET_UNTIL_HOUR`` (08:00) city time wait until the morning.

Two kinds of text go at once anyway: a *change* to a pickup (moved, cancelled, confirmed,
missed) that concerns a day the morning release would already be on or after — the resident
must know before the truck comes or before putting items out — and replies to a text the
resident has just sent us. Email is never held.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .settings import NotifySettings

CHANGES = {"booking_rescheduled", "booking_cancelled", "pickup_confirmed", "pickup_missed"}
REPLY_PREFIX = "reply_"


def _in_quiet_hours(hour: int, settings: NotifySettings) -> bool:
    start, end = settings.sms_quiet_from_hour, settings.sms_quiet_until_hour
    return (hour >= start or hour < end) if start > end else start <= hour < end


def held_until(kind: str, days_concerned: list[date], now: datetime, settings: NotifySettings) -> datetime | None:
    """When a text of ``kind`` written at ``now`` may go, if not now; None: send it now."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    if kind.startswith(REPLY_PREFIX) or not _in_quiet_hours(local.hour, settings):
        return None
    morning = local.date() if local.hour < settings.sms_quiet_until_hour else local.date() + timedelta(days=1)
    release = datetime.combine(morning, time(settings.sms_quiet_until_hour), tzinfo=local.tzinfo)
    if kind in CHANGES and any(day <= release.date() for day in days_concerned):
        return None
    return release
