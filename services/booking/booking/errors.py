"""The booking service's named errors; each maps once to a problem response."""
from __future__ import annotations

from haulbridge_runtime.problems import Problem


class UnknownAddress(Problem):
    status, slug, title = 422, "unknown-address", "Address not found"


class AmbiguousAddress(Problem):
    status, slug, title = 422, "ambiguous-address", "Address matches more than one place"


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


class AddressNotEligible(Problem):
    status, slug, title = 422, "address-not-eligible", "Address not eligible"


class SlotFull(Problem):
    status, slug, title = 409, "slot-full", "Date fully booked"


class SlotHeld(Problem):
    status, slug, title = 409, "slot-held", "Date held by someone else"


class HoldNotValid(Problem):
    status, slug, title = 409, "hold-not-valid", "Hold not valid"


class QuotaExceeded(Problem):
    status, slug, title = 409, "quota-exceeded", "Household quota used up"


class IdempotencyKeyReused(Problem):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency key used for another request"


class ManageTokenInvalid(Problem):
    status, slug, title = 403, "manage-token-invalid", "Manage link not valid"


class ChangeClosed(Problem):
    status, slug, title = 409, "change-closed", "Too late to change"
