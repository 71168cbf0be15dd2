"""Per-hauler protection around every vendor call: a concurrency limit and a circuit breaker.

At most ``ADAPTERS_VENDOR_CONCURRENCY`` calls to one hauler at a time, so a slow hauler cannot
take every connection or task. After ``ADAPTERS_CIRCUIT_THRESHOLD`` failed calls in a row
(``VendorUnavailable``: timeouts, 5xx, 429 — a refusal is the vendor working, not failing) the
hauler's circuit opens: calls fail at once without reaching the vendor, for
``ADAPTERS_CIRCUIT_OPEN_SECONDS``; then one call is let through to test it. So one failing hauler
costs the others nothing: its bookings fail fast (``dispatch.failed``, the reason says the
circuit is open) instead of holding the consumer in retries. Circuits are per process (purgatory,
in memory); state changes are logged and exported as ``haulbridge_adapters_circuit_open``.

Every guarded call is measured: ``haulbridge_adapters_vendor_calls_total{hauler, operation, outcome}``
and, for calls that reached the vendor, ``haulbridge_adapters_vendor_call_seconds{hauler, operation}``
(a call's time includes the adapter's own retries and their waits). A call that concerns one
booking is also handed to ``record`` (a :class:`VendorCall`), after the call and outside the
hauler's concurrency slot; the recorder must not block (see ``vendor_calls.py``). A cancelled
call (shutdown) has no outcome and is not counted.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from haulbridge_runtime.logs import get_logger

from .base import DispatchReceipt, HaulerAdapter, PickupJob, VendorRejected, VendorReport, VendorUnavailable

log = get_logger(__name__)

CIRCUIT_OPEN = Gauge("haulbridge_adapters_circuit_open", "1 while a hauler's circuit breaker is open", ["hauler"])
VENDOR_CALLS = Counter(
    "haulbridge_adapters_vendor_calls_total",
    "Calls to a hauler's system, by outcome (ok, refused, unavailable, circuit_open, error)",
    ["hauler", "operation", "outcome"])
VENDOR_CALL_SECONDS = Histogram(
    "haulbridge_adapters_vendor_call_seconds", "Time of a call that reached the hauler's system, retries included",
    ["hauler", "operation"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0))

DETAIL_CHARS = 1000  # the vendor's words or the error, as kept with a call


@dataclass(frozen=True)
class VendorCall:
    """One guarded call, as recorded for its booking's timeline."""
    hauler_id: str
    operation: str  # dispatch, status, cancel, reschedule
    outcome: str  # ok, refused, unavailable, circuit_open, error
    at: datetime  # when it was asked for
    duration_ms: int | None  # None: the vendor was not called (circuit open)
    detail: str | None
    booking_id: str | None = None
    external_ref: str | None = None


def _outcome(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, VendorRejected):
        return "refused", exc.reason
    if isinstance(exc, VendorUnavailable):
        return "unavailable", exc.reason
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return "unavailable", f"{type(exc).__name__}: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


class Circuits:
    """One breaker per hauler, shared by all its adapters in this process."""

    def __init__(self, *, threshold: int, open_seconds: float) -> None:
        self.factory = AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=open_seconds,
                                                  exclude=[VendorRejected])
        self.factory.add_listener(self._changed)

    @staticmethod
    def _changed(name: str, what: str, event) -> None:
        if what == "state_changed":
            CIRCUIT_OPEN.labels(name).set(1 if event.state == "opened" else 0)
            log.warning("hauler circuit changed", hauler_id=name, state=event.state)


class GuardedAdapter:
    """An adapter behind its hauler's concurrency limit and circuit breaker."""

    def __init__(self, adapter: HaulerAdapter, *, hauler_id: str, circuits: Circuits, concurrency: int,
                 record: Callable[[VendorCall], None] | None = None) -> None:
        self.adapter = adapter
        self.record = record
        self.kind = adapter.kind
        self.hauler_id = hauler_id
        self.circuits = circuits
        self.limit = asyncio.Semaphore(concurrency)
        self.can_list_jobs = hasattr(adapter, "list_jobs")
        self.can_cancel = hasattr(adapter, "cancel")
        self.can_reschedule = hasattr(adapter, "reschedule")

    async def _guarded(self, operation: str, call, *, booking_id: str | None = None,
                       external_ref: str | None = None):
        at, elapsed, opened = datetime.now(UTC), None, False
        try:
            async with self.limit:
                try:
                    async with await self.circuits.factory.get_breaker(self.hauler_id):
                        started = time.perf_counter()
                        try:
                            result = await call()
                        finally:
                            elapsed = time.perf_counter() - started
                except OpenedState as exc:
                    opened = True
                    raise VendorUnavailable(f"circuit open for hauler '{self.hauler_id}': not called ({exc})") from exc
        except Exception as exc:
            outcome, detail = ("circuit_open", str(exc)) if opened else _outcome(exc)
            self._observe(operation, outcome, at, elapsed, detail, booking_id, external_ref)
            raise
        self._observe(operation, "ok", at, elapsed, None, booking_id,
                      external_ref or getattr(result, "external_ref", None))
        return result

    def _observe(self, operation: str, outcome: str, at: datetime, elapsed: float | None, detail: str | None,
                 booking_id: str | None, external_ref: str | None) -> None:
        VENDOR_CALLS.labels(self.hauler_id, operation, outcome).inc()
        if elapsed is not None:
            VENDOR_CALL_SECONDS.labels(self.hauler_id, operation).observe(elapsed)
        if self.record is None or (booking_id is None and external_ref is None):
            return  # a call about no one booking (job lists, manifests, completion files): metrics only
        try:
            self.record(VendorCall(
                hauler_id=self.hauler_id, operation=operation, outcome=outcome, at=at,
                duration_ms=None if elapsed is None else round(elapsed * 1000),
                detail=detail[:DETAIL_CHARS] if detail else None, booking_id=booking_id, external_ref=external_ref))
        except Exception:  # recording never fails the call
            log.exception("vendor call not recorded", hauler_id=self.hauler_id, operation=operation)

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        return await self._guarded("dispatch", lambda: self.adapter.dispatch(job), booking_id=job.booking_id)

    async def fetch_status(self, external_ref: str) -> VendorReport:
        return await self._guarded("status", lambda: self.adapter.fetch_status(external_ref),
                                   external_ref=external_ref)

    async def cancel(self, external_ref: str, reason: str) -> None:
        await self._guarded("cancel", lambda: self.adapter.cancel(external_ref, reason), external_ref=external_ref)

    async def reschedule(self, external_ref: str, pickup_date: str) -> None:
        await self._guarded("reschedule", lambda: self.adapter.reschedule(external_ref, pickup_date),
                            external_ref=external_ref)

    async def list_jobs(self) -> list[VendorReport]:
        return await self._guarded("list_jobs", self.adapter.list_jobs)

    async def upload_manifest(self, day, jobs: list[PickupJob], *, part: int = 1) -> str:
        return await self._guarded("manifest", lambda: self.adapter.upload_manifest(day, jobs, part=part))

    async def fetch_completions(self, seen: set[str]):
        return await self._guarded("completions", lambda: self.adapter.fetch_completions(seen))

    async def close(self) -> None:
        await self.adapter.close()
