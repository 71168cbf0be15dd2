"""Haulers that work from daily files (kind ``batch_files``; the demo's South Bay Haulers).

- **Manifests.** Bookings for such a hauler wait as ``queued``. Each evening at
  ``ADAPTERS_MANIFEST_HOUR`` (20:00 city time; or every ``ADAPTERS_MANIFEST_EVERY_SECONDS`` when
  set, as in the demo) the queued bookings go in one manifest CSV uploaded by SFTP; once the
  upload is done they are ``accepted`` and ``dispatch.accepted`` is published for each, in one
  transaction. A failed upload leaves them queued for the next run. Operators can send one now:
  ``POST /admin/v1/batch/{hauler_id}/manifest``.
- **Completion files.** Every ``ADAPTERS_BATCH_POLL_SECONDS`` the hauler's completion CSVs not
  read yet are fetched; each row is applied with :mod:`reports` (completed, missed, refused),
  and the file is recorded with the rows that could not be read and why, shown at
  ``GET /admin/v1/batch/files`` and logged — never dropped silently.
"""
from __future__ import annotations

import asyncio
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import APIRouter, Depends, Request

from haulbridge_runtime.envelope import child_traceparent, new_event
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.operators import require_operator
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.problems import NotFound, problem_responses
from haulbridge_runtime.topics import EventType

from . import reports, repository
from .settings import AdapterSettings
from .vendors.base import Integration, PickupJob, VendorRejected, VendorUnavailable
from .vendors.batch_files import BatchFilesAdapter
from .vendors.registry import AdapterRegistry, UnsupportedVendorKind

log = get_logger(__name__)

KIND = BatchFilesAdapter.kind


async def _batch_integrations(pool: asyncpg.Pool) -> list[Integration]:
    async with pool.acquire() as conn:
        return [i for i in await repository.integrations(conn) if i.kind == KIND]


async def send_manifest(pool: asyncpg.Pool, registry: AdapterRegistry, integration: Integration, day: date) -> int:
    """Upload the hauler's queued bookings as the manifest of ``day``; how many went."""
    async with pool.acquire() as conn:
        queued = await repository.queued_jobs(conn, integration.hauler_id)
        part = await repository.manifests_sent(conn, hauler_id=integration.hauler_id, day=day) + 1
    if not queued:
        return 0
    adapter = registry.adapter_for(integration)
    path = await adapter.upload_manifest(day, [PickupJob(**row["job"]) for row in queued], part=part)
    async with pool.acquire() as conn, conn.transaction():
        await repository.record_manifest(conn, hauler_id=integration.hauler_id, day=day, remote_path=path,
                                         bookings=len(queued))
        for row in queued:
            await repository.record_outcome(conn, booking_id=row["booking_id"], status="accepted",
                                            external_ref=row["reference"])
            await add_event(conn, new_event(
                type=EventType.DISPATCH_ACCEPTED, source=reports.SOURCE, subject=str(row["booking_id"]),
                correlation_id=row["correlation_id"], traceparent=child_traceparent(row["traceparent"]),
                data={"booking_id": str(row["booking_id"]), "hauler_id": integration.hauler_id,
                      "reference": row["reference"], "hauler_reference": row["reference"]}))
    log.info("manifest uploaded", hauler_id=integration.hauler_id, day=day.isoformat(), bookings=len(queued),
             remote_path=path)
    return len(queued)


async def read_completions(pool: asyncpg.Pool, registry: AdapterRegistry, integration: Integration) -> int:
    """Apply the hauler's completion files not read yet; how many reports changed something."""
    async with pool.acquire() as conn:
        seen = await repository.completion_files_read(conn, integration.hauler_id)
    files = await registry.adapter_for(integration).fetch_completions(seen)
    changed = 0
    for file in files:
        applied = 0
        for report in file.reports:
            applied += await reports.receive(pool, integration.hauler_id, report) == "applied"
        problems = [{"line": p.line, "raw": p.raw, "reason": p.reason} for p in file.problems]
        async with pool.acquire() as conn:
            await repository.record_completion_file(conn, hauler_id=integration.hauler_id, name=file.name,
                                                    reports=len(file.reports), applied=applied, problems=problems)
        if problems:
            log.warning("completion file rows not read; staff to check", hauler_id=integration.hauler_id,
                        file=file.name, problems=problems)
        log.info("completion file read", hauler_id=integration.hauler_id, file=file.name,
                 reports=len(file.reports), applied=applied)
        changed += applied
    return changed


async def run_forever(pool_getter, registry: AdapterRegistry, settings: AdapterSettings) -> None:
    zone = ZoneInfo(settings.timezone)
    last_manifest: dict[str, float] = {}
    sent_on: dict[str, date] = {}
    while True:
        now = datetime.now(zone)
        for integration in await _batch_integrations(pool_getter()):
            hauler = integration.hauler_id
            if settings.manifest_every_seconds is not None:
                due = now.timestamp() - last_manifest.get(hauler, 0) >= settings.manifest_every_seconds
            else:
                due = now.hour >= settings.manifest_hour and sent_on.get(hauler) != now.date()
            try:
                if due:
                    await send_manifest(pool_getter(), registry, integration, now.date())
                    last_manifest[hauler], sent_on[hauler] = now.timestamp(), now.date()
                await read_completions(pool_getter(), registry, integration)
            except (VendorUnavailable, VendorRejected, UnsupportedVendorKind) as exc:
                log.warning("batch run failed; tried again next round", hauler_id=hauler, error=str(exc))
        await asyncio.sleep(settings.batch_poll_seconds)


router = APIRouter(prefix="/admin/v1/batch", tags=["batch files"], dependencies=[Depends(require_operator)],
                   responses=problem_responses(401))


@router.post("/{hauler_id}/manifest", responses=problem_responses(404, 503),
             summary="Send this hauler's queued bookings now")
async def manifest_now(hauler_id: str, request: Request) -> dict:
    pool, registry = request.app.state.runtime.pool, request.app.state.registry
    integration = next((i for i in await _batch_integrations(pool) if i.hauler_id == hauler_id), None)
    if integration is None:
        raise NotFound(f"No batch-file hauler '{hauler_id}'.")
    day = datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()
    return {"hauler_id": hauler_id, "day": day.isoformat(),
            "bookings": await send_manifest(pool, registry, integration, day)}


@router.get("/files", summary="Completion files read, with the rows that could not be read")
async def files(request: Request) -> list[dict]:
    async with request.app.state.runtime.pool.acquire() as conn:
        return [dict(r) for r in await repository.completion_files(conn)]
