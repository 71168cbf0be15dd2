"""One module names every topic and every event type of the platform.

A test checks that every consumer subscribes only to topics named here and
that every event type has a JSON Schema in ``contracts/events``.
"""
from __future__ import annotations

BOOKING = "booking.v1"
HAULER = "hauler.v1"
NOTIFY = "notify.v1"

ALL_TOPICS = (BOOKING, HAULER, NOTIFY)

DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """The dead-letter topic that parks what could not be processed from ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"


def qualified(topic: str, prefix: str = "") -> str:
    """The topic name on the broker. A prefix lets test runs share one broker."""
    return f"{prefix}{topic}"


_NS = "org.haulbridge"


class EventType:
    """CloudEvents ``type`` values, versioned; each has a schema in contracts/events."""

    BOOKING_REQUESTED = f"{_NS}.booking.requested.v1"
    BOOKING_RESCHEDULED = f"{_NS}.booking.rescheduled.v1"
    BOOKING_CANCELLED = f"{_NS}.booking.cancelled.v1"
    BOOKING_FEEDBACK_RECEIVED = f"{_NS}.booking.feedback-received.v1"
    BOOKING_MISSED_REPORTED = f"{_NS}.booking.missed-reported.v1"
    BOOKING_STATUS_CORRECTED = f"{_NS}.booking.status-corrected.v1"

    DISPATCH_ACCEPTED = f"{_NS}.dispatch.accepted.v1"
    DISPATCH_REJECTED = f"{_NS}.dispatch.rejected.v1"
    DISPATCH_FAILED = f"{_NS}.dispatch.failed.v1"
    PICKUP_CONFIRMED = f"{_NS}.pickup.confirmed.v1"
    PICKUP_COMPLETED = f"{_NS}.pickup.completed.v1"
    PICKUP_RESCHEDULED = f"{_NS}.pickup.rescheduled.v1"
    PICKUP_MISSED = f"{_NS}.pickup.missed.v1"
    DISCREPANCY_FOUND = f"{_NS}.reconciliation.discrepancy-found.v1"

    NOTIFICATION_SENT = f"{_NS}.notification.sent.v1"
    ITEMS_OUT_CONFIRMED = f"{_NS}.resident.items-out-confirmed.v1"


# Which topic carries which event type: producers never choose a topic by hand.
TOPIC_OF = {
    EventType.BOOKING_REQUESTED: BOOKING,
    EventType.BOOKING_RESCHEDULED: BOOKING,
    EventType.BOOKING_CANCELLED: BOOKING,
    EventType.BOOKING_FEEDBACK_RECEIVED: BOOKING,
    EventType.BOOKING_MISSED_REPORTED: BOOKING,
    EventType.BOOKING_STATUS_CORRECTED: BOOKING,
    EventType.DISPATCH_ACCEPTED: HAULER,
    EventType.DISPATCH_REJECTED: HAULER,
    EventType.DISPATCH_FAILED: HAULER,
    EventType.PICKUP_CONFIRMED: HAULER,
    EventType.PICKUP_COMPLETED: HAULER,
    EventType.PICKUP_RESCHEDULED: HAULER,
    EventType.PICKUP_MISSED: HAULER,
    EventType.DISCREPANCY_FOUND: HAULER,
    EventType.NOTIFICATION_SENT: NOTIFY,
    EventType.ITEMS_OUT_CONFIRMED: NOTIFY,
}


def short_name(event_type: str) -> str:
    """``org.haulbridge.booking.requested.v1`` -> ``booking.requested.v1`` (the schema file stem)."""
    return event_type.removeprefix(_NS + ".")
