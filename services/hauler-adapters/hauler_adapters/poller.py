"""Ask the haulers without webhooks (SOAP, declarative JSON) about their open jobs, on a schedule.

Every ``ADAPTERS_POLL_SECONDS`` the poller lists the jobs the city believes open (accepted or
confirmed, with the hauler's job number) at haulers whose adapter can be asked, asks each
vendor — at most ``ADAPTERS_POLL_CONCURRENCY`` calls at a time, no database connection held
while waiting — and applies each answer with :mod:`reports` (forward only, once), which
publishes ``pickup.confirmed`` / ``.completed`` / ``.missed``. A vendor that does not answer is
asked again next round.
"""
from __future__ import annotations

import asyncio

import asyncpg

from haulbridge_runtime.logs import get_logger

from . import reports, repository
from .settings import AdapterSettings
from .vendors.base import VendorRejected, VendorUnavailable
from .vendors.registry import POLLED_KINDS, AdapterRegistry, UnsupportedVendorKind

log = get_logger(__name__)


async def poll_once(pool: asyncpg.Pool, registry: AdapterRegistry, settings: AdapterSettings) -> int:
    """One round; how many reports changed something."""
    async with pool.acquire() as conn:
        jobs = await repository.open_jobs(conn, kinds=sorted(POLLED_KINDS))
        integrations = {h: await repository.get_integration(conn, h) for h in {j["hauler_id"] for j in jobs}}
    limit = asyncio.Semaphore(settings.poll_concurrency)

    async def ask(job: asyncpg.Record) -> bool:
        async with limit:
            try:
                adapter = registry.adapter_for(integrations[job["hauler_id"]])
                report = await adapter.fetch_status(job["external_ref"])
            except (VendorUnavailable, VendorRejected, UnsupportedVendorKind) as exc:
                log.warning("status poll failed; asked again next round", hauler_id=job["hauler_id"],
                            hauler_reference=job["external_ref"], error=str(exc))
                return False
        return await reports.receive(pool, job["hauler_id"], report, booking_id=job["booking_id"]) == "applied"

    applied = sum(await asyncio.gather(*(ask(job) for job in jobs)))
    if applied:
        log.info("status poll applied reports", applied=applied, asked=len(jobs))
    return applied


async def poll_forever(pool_getter, registry: AdapterRegistry, settings: AdapterSettings) -> None:
    while True:
        try:
            await poll_once(pool_getter(), registry, settings)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("status poll round failed", error=str(exc))
        await asyncio.sleep(settings.poll_seconds)
