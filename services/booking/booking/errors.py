"""The booking service's named errors; each maps once to a problem response."""
from __future__ import annotations

from haulbridge_runtime.problems import Problem


class UnknownAddress(Problem):
    status, slug, title = 422, "unknown-address", "Address not found"


class AddressNotServed(Problem):
    status, slug, title = 422, "address-not-served", "Address not served"


class DateNotBookable(Problem):
    status, slug, title = 422, "date-not-bookable", "Date not bookable"


class ItemsNotAccepted(Problem):
    status, slug, title = 422, "items-not-accepted", "Items not accepted"


class BookingNotFound(Problem):
    status, slug, title = 404, "booking-not-found", "Booking not found"


class IllegalTransition(Problem):
    status, slug, title = 409, "illegal-transition", "Not allowed in the booking's current state"
