"""The booking state machine, as the city's rules say it."""
from __future__ import annotations

import pytest

from booking.lifecycle import TERMINAL, Decision, Status, decide

HAPPY_PATH = [Status.REQUESTED, Status.DISPATCHED, Status.CONFIRMED, Status.COMPLETED]


def test_the_happy_path_moves_forward_one_step_at_a_time():
    for current, target in zip(HAPPY_PATH, HAPPY_PATH[1:]):
        assert decide(current, target) is Decision.APPLY


def test_a_hauler_that_completes_before_confirming_still_completes_the_booking():
    assert decide(Status.DISPATCHED, Status.COMPLETED) is Decision.APPLY
    assert decide(Status.REQUESTED, Status.CONFIRMED) is Decision.APPLY


@pytest.mark.parametrize("current, late", [
    (Status.CONFIRMED, Status.DISPATCHED),
    (Status.COMPLETED, Status.CONFIRMED),
    (Status.COMPLETED, Status.DISPATCHED),
    (Status.COMPLETED, Status.COMPLETED),
    (Status.DISPATCHED, Status.DISPATCH_FAILED),
])
def test_a_late_or_repeated_report_is_stale_and_changes_nothing(current, late):
    assert decide(current, late) is Decision.STALE


@pytest.mark.parametrize("current, target", [
    (Status.COMPLETED, Status.CANCELLED),
    (Status.CANCELLED, Status.CONFIRMED),
    (Status.REJECTED, Status.DISPATCHED),
    (Status.CONFIRMED, Status.REJECTED),
])
def test_illegal_moves_are_refused(current, target):
    assert decide(current, target) is Decision.ILLEGAL


def test_nothing_leaves_a_terminal_state():
    for terminal in TERMINAL:
        for target in Status:
            assert decide(terminal, target) is not Decision.APPLY


def test_a_booking_can_be_cancelled_until_it_is_completed():
    for status in (Status.REQUESTED, Status.DISPATCHED, Status.CONFIRMED, Status.DISPATCH_FAILED, Status.MISSED):
        assert decide(status, Status.CANCELLED) is Decision.APPLY
