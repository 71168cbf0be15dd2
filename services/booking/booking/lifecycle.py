"""The one state machine of a booking.

requested → dispatched → confirmed → completed, with side exits rejected,
dispatch_failed, missed and cancelled. Vendor reports can arrive late, twice
or out of order (completed before confirmed); the machine tells the caller
whether a report moves the booking on, is stale (the booking is already past
it: noted in the history, state unchanged) or is illegal.
"""
from __future__ import annotations

from enum import Enum, StrEnum


class Status(StrEnum):
    REQUESTED = "requested"
    DISPATCHED = "dispatched"
    DISPATCH_FAILED = "dispatch_failed"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    MISSED = "missed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.COMPLETED, Status.REJECTED, Status.CANCELLED})

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.REQUESTED: frozenset({Status.DISPATCHED, Status.CONFIRMED, Status.COMPLETED, Status.REJECTED,
                                 Status.DISPATCH_FAILED, Status.MISSED, Status.CANCELLED}),
    Status.DISPATCH_FAILED: frozenset({Status.DISPATCHED, Status.CONFIRMED, Status.COMPLETED,
                                       Status.REJECTED, Status.CANCELLED}),
    Status.DISPATCHED: frozenset({Status.CONFIRMED, Status.COMPLETED, Status.REJECTED, Status.MISSED,
                                  Status.CANCELLED}),
    Status.CONFIRMED: frozenset({Status.COMPLETED, Status.MISSED, Status.CANCELLED}),
    Status.MISSED: frozenset({Status.CONFIRMED, Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}

# Progress along the happy path: a report for a step the booking has passed is stale.
_PROGRESS = {Status.REQUESTED: 0, Status.DISPATCH_FAILED: 0, Status.DISPATCHED: 1, Status.CONFIRMED: 2,
             Status.MISSED: 2, Status.COMPLETED: 3}


class Decision(Enum):
    APPLY = "apply"
    STALE = "stale"
    ILLEGAL = "illegal"


def decide(current: Status, target: Status) -> Decision:
    if target in _ALLOWED[current]:
        return Decision.APPLY
    if current == target:
        return Decision.STALE
    if target in _PROGRESS and current in _PROGRESS and _PROGRESS[target] < _PROGRESS[current]:
        return Decision.STALE
    return Decision.ILLEGAL
