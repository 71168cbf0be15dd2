"""The one interface every vendor integration implements, and the errors they speak.

The rest of the platform never knows which vendor it talks to: a booking goes
in as a :class:`PickupJob`, an answer comes back as a :class:`DispatchReceipt`
or one of two named errors: :class:`VendorRejected` (the hauler said no; do
not retry) and :class:`VendorUnavailable` (could not get an answer; retried,
and after the last attempt the dispatch has failed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PickupJob:
    booking_id: str
    reference: str
    pickup_date: str
    address: dict[str, Any]
    items: list[dict[str, Any]]
    contact_name: str
    contact_phone: str | None
    notes: str | None
    idempotency_key: str


@dataclass(frozen=True)
class DispatchReceipt:
    external_ref: str
    status: str
    raw: dict[str, Any] = field(default_factory=dict)


# What a job can be at a hauler, in the city's words; every vendor's status words map to one.
# ("rescheduled" is a report, not a state: the hauler proposes another day.)
JOB_STATUSES = ("accepted", "confirmed", "completed", "missed", "cancelled", "rejected", "rescheduled")


@dataclass(frozen=True)
class VendorReport:
    """What a hauler says about one job, translated into the city's words."""
    external_ref: str
    status: str  # one of JOB_STATUSES
    pickup_date: str | None = None  # ISO date, when the hauler names one
    window: dict[str, str] | None = None  # {"from": "08:00", "to": "12:00"}
    reason: str | None = None  # for missed / rejected
    occurred_at: str | None = None


@dataclass(frozen=True)
class Integration:
    hauler_id: str
    kind: str
    base_url: str | None
    api_key_env: str | None
    webhook_secret_env: str | None
    config: dict[str, Any]


class InvalidIntegration(Exception):
    """The integration's configuration cannot work; the reason says which field."""


class VendorRejected(Exception):
    """The hauler answered and refused the job; retrying would get the same answer."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class VendorUnavailable(Exception):
    """No usable answer from the hauler (timeout, connection error, 5xx, 429)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class HaulerAdapter(Protocol):
    kind: str

    async def dispatch(self, job: PickupJob) -> DispatchReceipt: ...

    async def close(self) -> None: ...


class PolledAdapter(HaulerAdapter, Protocol):
    """A vendor without webhooks: the poller asks it about each open job on a schedule."""

    async def fetch_status(self, external_ref: str) -> VendorReport: ...
