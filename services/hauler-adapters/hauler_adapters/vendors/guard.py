"""Per-hauler protection around every vendor call: a concurrency limit and a circuit breaker.

At most ``ADAPTERS_VENDOR_CONCURRENCY`` calls to one hauler at a time, so a slow hauler cannot
take every connection or task. After ``ADAPTERS_CIRCUIT_THRESHOLD`` failed calls in a row
(``VendorUnavailable``: timeouts, 5xx, 429 — a refusal is the vendor working, not failing) the
hauler's circuit opens: calls fail at once without reaching the vendor, for
``ADAPTERS_CIRCUIT_OPEN_SECONDS``; then one call is let through to test it. So one failing hauler
costs the others nothing: its bookings fail fast (``dispatch.failed``, the reason says the
circuit is open) instead of holding the consumer in retries. Circuits are per process (purgatory,
in memory); state changes are logged and exported as ``haulbridge_adapters_circuit_open``.
"""
from __future__ import annotations

import asyncio

from prometheus_client import Gauge
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from haulbridge_runtime.logs import get_logger

from .base import DispatchReceipt, HaulerAdapter, PickupJob, VendorRejected, VendorReport, VendorUnavailable

log = get_logger(__name__)

CIRCUIT_OPEN = Gauge("haulbridge_adapters_circuit_open", "1 while a hauler's circuit breaker is open", ["hauler"])


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

    def __init__(self, adapter: HaulerAdapter, *, hauler_id: str, circuits: Circuits, concurrency: int) -> None:
        self.adapter = adapter
        self.kind = adapter.kind
        self.hauler_id = hauler_id
        self.circuits = circuits
        self.limit = asyncio.Semaphore(concurrency)
        self.can_list_jobs = hasattr(adapter, "list_jobs")
        self.can_cancel = hasattr(adapter, "cancel")
        self.can_reschedule = hasattr(adapter, "reschedule")

    async def _guarded(self, call):
        async with self.limit:
            try:
                async with await self.circuits.factory.get_breaker(self.hauler_id):
                    return await call()
            except OpenedState as exc:
                raise VendorUnavailable(f"circuit open for hauler '{self.hauler_id}': not called ({exc})") from exc

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        return await self._guarded(lambda: self.adapter.dispatch(job))

    async def fetch_status(self, external_ref: str) -> VendorReport:
        return await self._guarded(lambda: self.adapter.fetch_status(external_ref))

    async def cancel(self, external_ref: str, reason: str) -> None:
        await self._guarded(lambda: self.adapter.cancel(external_ref, reason))

    async def reschedule(self, external_ref: str, pickup_date: str) -> None:
        await self._guarded(lambda: self.adapter.reschedule(external_ref, pickup_date))

    async def list_jobs(self) -> list[VendorReport]:
        return await self._guarded(self.adapter.list_jobs)

    async def upload_manifest(self, day, jobs: list[PickupJob], *, part: int = 1) -> str:
        return await self._guarded(lambda: self.adapter.upload_manifest(day, jobs, part=part))

    async def fetch_completions(self, seen: set[str]):
        return await self._guarded(lambda: self.adapter.fetch_completions(seen))

    async def close(self) -> None:
        await self.adapter.close()
