"""Compare what the city believes with what each hauler reports, and act on the difference.

Every ``ADAPTERS_RECONCILE_SECONDS`` (and on demand), for each hauler:

| discrepancy | found how | action |
|---|---|---|
| ``missing_at_hauler`` | an open job (accepted/confirmed) absent from the hauler's job list | ``redispatched``: the job as first sent, with its idempotency key |
| ``unknown_to_city`` | a job in the hauler's list the city never dispatched | ``reported`` |
| ``status_mismatch`` | the hauler is further along than the city (a webhook lost) | ``applied_hauler_status`` (once, forward only) |
| ``status_mismatch`` | the city is further along than the hauler | ``reported`` |
| ``overdue`` | open, and ``ADAPTERS_OVERDUE_AFTER_HOURS`` past the end of its pickup day | ``reported`` |

Job lists come from haulers that have one (the JSON API kind); haulers that are polled get their
status compared by the poller, and all get the overdue check. Each discrepancy is recorded once
per hauler and city day (seen again, its ``last_seen_at`` moves) and, the first time,
published as ``reconciliation.discrepancy-found`` on ``hauler.v1`` for operations. No database
connection is held while a hauler is asked.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from . import reports, repository
from .settings import AdapterSettings
from .vendors.base import Integration, PickupJob, VendorRejected, VendorReport, VendorUnavailable
from .vendors.registry import AdapterRegistry, UnsupportedVendorKind

log = get_logger(__name__)

OPEN = ("queued", "accepted", "confirmed")


async def reconcile(pool: asyncpg.Pool, registry: AdapterRegistry, settings: AdapterSettings,
                    *, now: datetime | None = None) -> list[dict]:
    """One run over every hauler; the discrepancies found (new and known)."""
    now = now or datetime.now(ZoneInfo(settings.timezone))
    async with pool.acquire() as conn:
        integrations = await repository.integrations(conn)
    found = []
    for integration in integrations:
        found += await _reconcile_hauler(pool, registry, settings, integration, now)
    if found:
        log.info("reconciliation found discrepancies", count=len(found))
    return found


async def _reconcile_hauler(pool, registry, settings, integration: Integration, now: datetime) -> list[dict]:
    async with pool.acquire() as conn:
        city = await repository.jobs_of_hauler(conn, integration.hauler_id)
    day = now.date()
    found: list[dict] = []

    def note(kind: str, action: str, job=None, report: VendorReport | None = None, detail: str | None = None):
        found.append({"hauler_id": integration.hauler_id, "day": day, "kind": kind, "action": action,
                      "booking_id": job["booking_id"] if job else None, "reference": job["reference"] if job else None,
                      "external_ref": (job["external_ref"] if job else None) or (report.external_ref if report else None),
                      "city_status": job["status"] if job else None,
                      "hauler_status": report.status if report else None, "detail": detail})

    try:
        adapter = registry.adapter_for(integration)
    except UnsupportedVendorKind:
        adapter = None
    if adapter is not None and adapter.can_list_jobs:
        try:
            listed = {r.external_ref: r for r in await adapter.list_jobs()}
        except (VendorUnavailable, VendorRejected) as exc:
            log.warning("reconciliation could not list the hauler's jobs", hauler_id=integration.hauler_id,
                        error=str(exc))
            listed = None
        if listed is not None:
            for job in city:
                report = listed.get(job["external_ref"])
                if report is None and job["status"] in OPEN:
                    note("missing_at_hauler", await _redispatch(pool, adapter, integration, job), job)
                elif report is not None and reports.PROGRESS.get(report.status, 0) > reports.PROGRESS[job["status"]]:
                    applied = await reports.receive(pool, integration.hauler_id, report,
                                                    booking_id=job["booking_id"]) == "applied"
                    note("status_mismatch", "applied_hauler_status" if applied else "reported", job, report)
                elif report is not None and report.status != job["status"]:
                    note("status_mismatch", "reported", job, report, "the city is further along than the hauler")
            known = {job["external_ref"] for job in city}
            for ref, report in listed.items():
                if ref not in known:
                    note("unknown_to_city", "reported", report=report)
    overdue_before = now - timedelta(hours=settings.overdue_after_hours)
    for job in city:
        end_of_day = datetime.combine(job["pickup_date"] + timedelta(days=1), time(), tzinfo=now.tzinfo)
        if job["status"] in OPEN and end_of_day <= overdue_before and not any(
                f["booking_id"] == job["booking_id"] and f["kind"] == "missing_at_hauler" for f in found):
            note("overdue", "reported", job, detail=f"no completion {settings.overdue_after_hours:g} h after "
                                                    f"{job['pickup_date']}")
    async with pool.acquire() as conn, conn.transaction():
        for discrepancy in found:
            if await repository.note_discrepancy(conn, discrepancy):
                await add_event(conn, new_event(
                    type=EventType.DISCREPANCY_FOUND, source=reports.SOURCE,
                    subject=str(discrepancy["booking_id"] or _hauler_subject(discrepancy["hauler_id"])),
                    data={k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if hasattr(v, "isoformat")
                              else v) for k, v in discrepancy.items() if v is not None}))
    return found


def _hauler_subject(hauler_id: str) -> uuid.UUID:
    """The event subject (a uuid, the record key) of a discrepancy that concerns no booking."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:haulbridge:hauler:{hauler_id}")


async def _redispatch(pool, adapter, integration: Integration, job) -> str:
    """Send the job again as first sent (same idempotency key); the outcome, in words."""
    if job["job"] is None:
        return "reported"  # dispatched before the job was kept: staff re-dispatch by hand
    try:
        receipt = await adapter.dispatch(PickupJob(**job["job"]))
    except (VendorUnavailable, VendorRejected) as exc:
        log.warning("re-dispatch failed", hauler_id=integration.hauler_id, reference=job["reference"], error=str(exc))
        return "redispatch_failed"
    async with pool.acquire() as conn:
        await repository.record_outcome(conn, booking_id=job["booking_id"], status=job["status"],
                                        external_ref=receipt.external_ref)
    log.warning("job missing at the hauler sent again", hauler_id=integration.hauler_id, reference=job["reference"],
                hauler_reference=receipt.external_ref)
    return "redispatched"


async def reconcile_forever(pool_getter, registry: AdapterRegistry, settings: AdapterSettings) -> None:
    while True:
        await asyncio.sleep(settings.reconcile_seconds)
        try:
            await reconcile(pool_getter(), registry, settings)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("reconciliation run failed", error=str(exc))
