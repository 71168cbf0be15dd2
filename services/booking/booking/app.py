"""The booking service process: HTTP API, outbox relay and the hauler.v1 consumer."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from haulbridge_runtime import topics
from haulbridge_runtime.service import ServiceRuntime, create_app

from . import hauler_reports
from .bookings.router import router as bookings_router
from .settings import BookingSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: BookingSettings | None = None) -> FastAPI:
    settings = settings or BookingSettings()
    runtime = ServiceRuntime(settings, MIGRATIONS)
    runtime.consume(group_id=hauler_reports.CONSUMER, topics=[topics.HAULER],
                    handlers=hauler_reports.handlers(lambda: runtime.pool))
    app = create_app(
        runtime,
        title="Haulbridge booking API",
        description="Book a free junk pickup, whichever hauler serves the address.",
    )
    app.state.settings = settings
    app.include_router(bookings_router)
    return app
