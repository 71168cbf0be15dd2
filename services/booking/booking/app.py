"""The booking service process: HTTP API, outbox relay and the hauler.v1 consumer."""
from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import Depends, FastAPI

from haulbridge_runtime import topics
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.problems import problem_responses
from haulbridge_runtime.service import ServiceRuntime, create_app

from . import city_rules, clients, hauler_reports
from .bookings.router import router as bookings_router
from .calendar import repository as calendar_repository
from .calendar.router import router as calendar_router
from .catalogue.router import router as catalogue_router
from .open311.router import router as open311_router
from .photos import service as photos
from .photos.router import router as photos_router
from .places.router import router as places_router
from .staff.router import router as staff_router
from .settings import BookingSettings

MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


def build_app(settings: BookingSettings | None = None) -> FastAPI:
    settings = settings or BookingSettings()
    runtime = ServiceRuntime(settings, MIGRATIONS)
    runtime.consume(group_id=hauler_reports.CONSUMER, topics=[topics.HAULER],
                    handlers=hauler_reports.handlers(lambda: runtime.pool, settings))

    async def sweep_holds() -> None:
        # Counting already ignores expired holds; the sweep keeps the table honest for staff.
        # Photos uploaded but never attached to a booking are deleted after a day.
        while True:
            async with runtime.pool.acquire() as conn:
                swept = await calendar_repository.sweep_expired_holds(conn)
                orphans = await photos.delete_unattached(conn)
            if swept or orphans:
                log.info("swept", expired_holds=swept, unattached_photos=orphans)
            await asyncio.sleep(60)

    runtime.job("sweeper", sweep_holds)
    rules_in_force = city_rules.RulesInForce(settings)
    runtime.job("city-rules-listener", rules_in_force.follow_changes)
    app = create_app(
        runtime,
        title="Haulbridge booking API",
        description="Book a free junk pickup, whichever hauler serves the address.",
    )
    app.state.settings = settings
    app.state.city_rules = rules_in_force
    limiter = clients.ResidentApiLimiter(storage_uri=settings.rate_limit_storage_uri,
                                         anonymous_limit=settings.rate_limit_anonymous)
    resident = [Depends(limiter), Depends(city_rules.for_request)]
    limited = problem_responses(401, 429)  # an unknown X-Api-Key; over the client's rate limit
    for router in (catalogue_router, places_router, calendar_router, photos_router, bookings_router):
        app.include_router(router, dependencies=resident, responses=limited)
    app.include_router(open311_router, dependencies=[Depends(limiter)], responses=limited)
    app.include_router(staff_router)
    return app
