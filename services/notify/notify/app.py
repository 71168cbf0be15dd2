"""The notify process: consumes booking.v1 and hauler.v1, sends email and SMS, takes the SMS
providers' receipts and residents' texts, sweeps stuck messages."""
from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import FastAPI, Request

from haulbridge_runtime import topics
from haulbridge_runtime.service import ServiceRuntime, create_app

from . import bounces, events, repository, sms_providers
from .previews import router as previews_router
from .unsubscribe import router as unsubscribe_router
from .sender import Sender, sweep_forever
from .sms_webhooks import router as sms_webhooks_router
from .settings import NotifySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime(settings, MIGRATIONS)
    runtime.consume(group_id=events.CONSUMER, topics=[topics.BOOKING, topics.HAULER],
                    handlers=events.handlers(lambda: runtime.pool, settings))
    providers = sms_providers.configured(settings)
    sender = Sender(pool_getter=lambda: runtime.pool, dsn=settings.database_url, schema=settings.db_schema,
                    settings=settings, providers=providers)
    runtime.job("sender", sender.run)
    if settings.bounce_smtp_port:
        runtime.job("bounces", lambda: bounces.receive_reports(lambda: runtime.pool, settings))
    runtime.job("sweeper", lambda: sweep_forever(pool_getter=lambda: runtime.pool, settings=settings,
                                                 every_seconds=settings.sweep_seconds))
    app = create_app(runtime, title="Haulbridge notify")
    app.state.settings = settings
    app.state.sms_providers = providers
    app.state.sender = sender
    app.include_router(previews_router)
    app.include_router(unsubscribe_router)
    app.include_router(sms_webhooks_router)

    @app.get("/v1/bookings/{booking_id}/notifications", tags=["notifications"])
    async def booking_notifications(booking_id: uuid.UUID, request: Request) -> list[dict]:
        async with runtime.pool.acquire() as conn:
            return [dict(r) for r in await repository.notifications_for(conn, booking_id)]

    return app
