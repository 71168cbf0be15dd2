"""The ops service: its read model fed by every topic (dead-letter topics included), live
health from the other services' /metrics, and the console on top (docs/operations.md)."""
from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from fastapi import Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from haulbridge_runtime import topics
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.problems import Problem, problem_response
from haulbridge_runtime.service import ServiceRuntime, create_app
from haulbridge_runtime.topics import TOPIC_OF

from . import console, kpis, repository, staff
from .health import Health
from .metrics import DEAD_LETTERS_PARKED, KPI_GOAL, KPI_VALUE
from .projection import Projection
from .services_api import ServicesApi
from .settings import OpsSettings
from .staff import LoginRequired

log = get_logger(__name__)

CONSUMER = "ops"
KPI_EVERY_SECONDS = 60.0


def build_app(settings: OpsSettings) -> "FastAPI":  # noqa: F821
    runtime = ServiceRuntime(settings, Path(__file__).parent / "migrations")
    session_secret = (settings.session_secret.get_secret_value() if settings.session_secret
                      else secrets.token_urlsafe(32))
    if settings.session_secret is None:
        log.warning("OPS_SESSION_SECRET is not set: sessions end when this process stops")
    hash_key = (settings.contact_hash_key or settings.session_secret)
    contact_hash_key = hashlib.sha256((hash_key.get_secret_value() if hash_key else session_secret).encode()).digest()
    health = Health({"booking": settings.booking_url, "hauler-adapters": settings.adapters_url,
                     "notify": settings.notify_url, "ops": f"http://127.0.0.1:{settings.http_port}"},
                    every_seconds=settings.scrape_seconds)
    projection = Projection(None, contact_hash_key=contact_hash_key)
    city = ZoneInfo(settings.timezone)

    all_topics = [*topics.ALL_TOPICS, *(topics.dlq(t) for t in topics.ALL_TOPICS)]
    runtime.consume(group_id=CONSUMER, topics=all_topics, handlers={t: projection.handle for t in TOPIC_OF},
                    key_concurrency=8)

    async def started() -> None:
        projection.pool = runtime.pool
        app.state.http = httpx.AsyncClient()
        app.state.services_api = ServicesApi(settings, app.state.http)

    async def stopped() -> None:
        await app.state.http.aclose()

    async def kpi_gauges() -> None:
        """The current month's KPIs and parked dead letters as metrics, for alerts (deploy/prometheus)."""
        KPI_GOAL.labels("on_time_share").set(settings.on_time_goal)
        while True:
            today = app.state.today()
            month = today.strftime("%Y-%m")
            first, last = kpis.month_bounds(month)
            async with runtime.pool.acquire() as conn:
                rows = await repository.kpi_bookings(conn, first_day=first, last_day=last)
                parked = await repository.parked_by_topic(conn)
            KPI_VALUE.clear()  # a figure with nothing behind it this month (a new month) is absent, not last month's
            for k in kpis.compute(rows, month=month, today=today, costs=app.state.costs, city=city):
                for name, value in k.figures().items():
                    if value is not None:
                        KPI_VALUE.labels(name, k.hauler_id).set(value)
            for topic in topics.ALL_TOPICS:
                DEAD_LETTERS_PARKED.labels(topic).set(parked.get(topic, 0))
            await asyncio.sleep(KPI_EVERY_SECONDS)

    runtime.on_start(started)
    runtime.on_stop(stopped)
    runtime.job("health", health.run)
    runtime.job("kpi-gauges", kpi_gauges)

    app = create_app(runtime, title="Haulbridge ops", description="The operations console.")
    app.state.health = health
    app.state.login_limiter = staff.login_limiter()
    app.state.contact_hash_key = contact_hash_key
    app.state.costs = kpis.CostInputs.load(settings.cost_inputs_file)
    app.state.city = city
    app.state.today = lambda: datetime.now(city).date()
    app.add_middleware(SessionMiddleware, secret_key=session_secret, session_cookie="haulbridge_ops",
                       max_age=int(settings.session_hours * 3600), same_site="lax", https_only=settings.secure_cookies)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(console.router)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        if "text/html" in request.headers.get("accept", ""):
            return console.login_redirect(request)
        return problem_response(_NotSignedIn("Sign in at /login first."), request)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return console.problem_page(request, exc) or problem_response(exc, request)

    return app


class _NotSignedIn(Problem):
    status, slug, title = 401, "unauthorized", "Not signed in"
