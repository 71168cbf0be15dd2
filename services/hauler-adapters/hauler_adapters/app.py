"""The hauler-adapters process: consumes booking.v1, calls haulers, receives their webhooks."""
from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI

from haulbridge_runtime import topics
from haulbridge_runtime.service import ServiceRuntime, create_app
from haulbridge_runtime.topics import EventType

from . import batch_runs, dispatch, poller, reconciliation, replies, repository, vendor_calls
from .settings import AdapterSettings
from .vendors.declarative import DeclarativeJsonAdapter, parse_config
from .vendors.registry import AdapterRegistry
from .integrations_api import router as integrations_router
from .reconciliation_api import router as reconciliation_router
from .vendor_calls_api import router as vendor_calls_router
from .vendor_pages import router as vendor_pages_router
from .webhooks import router as webhooks_router

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: AdapterSettings | None = None) -> FastAPI:
    settings = settings or AdapterSettings()
    runtime = ServiceRuntime(settings, MIGRATIONS)
    call_log = vendor_calls.VendorCallLog(lambda: runtime.pool)
    registry = AdapterRegistry(settings, record=call_log.record)

    async def on_booking_requested(event):
        await dispatch.dispatch_booking(event, pool=runtime.pool, registry=registry)

    async def on_booking_changed(event):
        await dispatch.pass_on_change(event, pool=runtime.pool, registry=registry)

    runtime.consume(group_id=dispatch.CONSUMER, topics=[topics.BOOKING],
                    handlers={EventType.BOOKING_REQUESTED: on_booking_requested,
                              EventType.BOOKING_CANCELLED: on_booking_changed,
                              EventType.BOOKING_RESCHEDULED: on_booking_changed},
                    key_concurrency=settings.dispatch_concurrency)

    async def load_integrations() -> None:
        if settings.integrations_file is None:
            return
        integrations = json.loads(settings.integrations_file.read_text())
        for integration in integrations:  # a configuration that cannot work stops the start, saying why
            if integration.get("kind") == DeclarativeJsonAdapter.kind:
                parse_config(integration.get("config", {}))
        async with runtime.pool.acquire() as conn:
            for integration in integrations:
                await repository.upsert_integration(conn, integration)

    runtime.on_start(load_integrations)
    runtime.job("status-poller", lambda: poller.poll_forever(lambda: runtime.pool, registry, settings))
    runtime.job("batch-files", lambda: batch_runs.run_forever(lambda: runtime.pool, registry, settings))
    runtime.job("reconciliation", lambda: reconciliation.reconcile_forever(lambda: runtime.pool, registry, settings))
    runtime.job("vendor-calls-pruner", lambda: vendor_calls.prune_forever(lambda: runtime.pool, settings))
    if settings.reply_smtp_port:
        runtime.job("dispatch-replies", lambda: replies.receive_replies(lambda: runtime.pool, settings))
    runtime.on_stop(registry.close)
    runtime.on_stop(call_log.drain)
    app = create_app(runtime, title="Haulbridge hauler adapters")
    app.state.settings = settings
    app.state.registry = registry
    app.include_router(webhooks_router)
    app.include_router(vendor_pages_router)
    app.include_router(reconciliation_router)
    app.include_router(integrations_router)
    app.include_router(batch_runs.router)
    app.include_router(vendor_calls_router)
    return app
