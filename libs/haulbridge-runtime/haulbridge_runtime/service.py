"""What every service process is made of: a pool on its own schema, migrations
applied at start, the outbox relay, its consumers and background jobs, and the
HTTP app with problem details, ``/healthz``, ``/readyz`` and ``/metrics``.

A background task that dies takes the process down (SIGTERM to itself) so the
supervisor restarts it, rather than leaving a half-alive service behind.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import metrics, tracing
from .consumer import EventConsumer, Handler
from .dead_letters import router as dead_letters_router
from .db import apply_migrations, create_pool
from .kafka import ensure_topics, platform_topics
from .logs import bind, configure_logging, get_logger
from .outbox import OutboxRelay
from .problems import document_problems, install_problem_handlers
from .settings import ServiceSettings

log = get_logger(__name__)


# How long stopping may wait for the background tasks (consumers, relay, jobs) after cancelling them.
STOP_TIMEOUT_SECONDS = 15.0


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, migrations: Path) -> None:
        self.settings = settings
        self.migrations = migrations
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self._consumer_specs: list[tuple[str, list[str], dict[str, Handler], int]] = []
        self._jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    def consume(self, *, group_id: str, topics: list[str], handlers: dict[str, Handler],
                key_concurrency: int = 1) -> None:
        """Handle these topics' events; ``key_concurrency`` > 1: events of different keys
        (bookings) of one partition concurrently, each key's in order (see consumer.py)."""
        self._consumer_specs.append((group_id, topics, handlers, key_concurrency))

    def job(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        """A long-running coroutine started after the pool is ready."""
        self._jobs.append((name, factory))

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs once the pool is ready, before the relay, consumers and jobs start."""
        self._on_start.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(hook)

    async def start(self) -> None:
        s = self.settings
        await apply_migrations(s.database_url, s.db_schema, self.migrations)
        self.pool = await create_pool(s.database_url, s.db_schema, min_size=s.db_pool_min, max_size=s.db_pool_max)
        for hook in self._on_start:
            await hook()
        # Create topics with their partition count before anyone subscribes or produces:
        # a broker that auto-creates them would choose its own count.
        await ensure_topics(s.kafka_bootstrap_servers, platform_topics(s.topic_prefix), s.topic_partitions)
        self.relay = OutboxRelay(
            pool=self.pool,
            dsn=s.database_url,
            schema=s.db_schema,
            service=s.service_name,
            bootstrap=s.kafka_bootstrap_servers,
            topic_prefix=s.topic_prefix,
            partitions=s.topic_partitions,
            poll_seconds=s.outbox_poll_seconds,
            batch_size=s.outbox_batch_size,
            retention_hours=s.outbox_retention_hours,
        )
        self._spawn("outbox-relay", self.relay.run)
        for group_id, topics_, handlers, key_concurrency in self._consumer_specs:
            consumer = EventConsumer(
                service=s.service_name,
                group_id=group_id,
                topics_=topics_,
                handlers=handlers,
                bootstrap=s.kafka_bootstrap_servers,
                topic_prefix=s.topic_prefix,
                max_attempts=s.consumer_max_attempts,
                retry_initial_seconds=s.consumer_retry_initial_seconds,
                retry_max_seconds=s.consumer_retry_max_seconds,
                session_timeout_ms=s.kafka_session_timeout_ms,
                heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
                key_concurrency=key_concurrency,
            )
            self.consumers.append(consumer)
            self._spawn(f"consumer:{group_id}", consumer.run)
        for name, factory in self._jobs:
            self._spawn(name, factory)

    def _spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.create_task(factory(), name=name)
        task.add_done_callback(self._on_task_done)
        self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task) -> None:
        if self._stopping or task.cancelled():
            return
        log.error("background task stopped; shutting the process down", task=task.get_name(),
                  error=repr(task.exception()))
        os.kill(os.getpid(), signal.SIGTERM)

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded, so a stuck task cannot outlast the orchestrator's grace period (30 s by default)
            # and get the process killed before the pool closes; each task's own clean-up is bounded too.
            _done, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_SECONDS)
            if stuck:
                log.warning("background tasks still stopping; going on", tasks=sorted(t.get_name() for t in stuck))
        for hook in self._on_stop:
            await hook()
        if self.relay is not None:
            await self.relay.stop()
        if self.pool is not None:
            await self.pool.close()

    async def readiness(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                checks["database"] = await conn.fetchval("SELECT true")
        except Exception:
            checks["database"] = False
        checks["outbox_relay"] = bool(self.relay and self.relay.healthy)
        for c in self.consumers:
            checks[f"consumer:{c.group_id}"] = c.running
        return checks


class ObserveRequests:
    """Pure ASGI middleware: correlation id into the log context, request count and latency per route.

    (Starlette's ``BaseHTTPMiddleware`` would wrap every request in an extra task and stream;
    this costs nothing but the timing.)
    """

    def __init__(self, app, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = None
        for name, value in scope["headers"]:
            if name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")[:100]
                break
        bind(correlation_id=correlation_id or f"request-{uuid.uuid4().hex[:16]}")
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaping the app is answered 500

        async def observe_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe_send)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(self.service, method, path, str(status)).inc()
            metrics.HTTP_LATENCY.labels(self.service, method, path).observe(time.perf_counter() - started)


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    version: str = "0.1.0",
    description: str = "",
) -> FastAPI:
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        log.info("service ready", port=settings.http_port)
        try:
            yield
        finally:
            await runtime.stop()
            await asyncio.to_thread(tracing.shutdown)  # export the spans still buffered

    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    app.include_router(dead_letters_router)

    app.add_middleware(ObserveRequests, service=settings.service_name)
    # Server spans (outermost, around the middleware above) when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    if tracing.setup(settings.service_name):
        tracing.instrument_app(app)
    generate_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document_problems(generate_openapi())
        return app.openapi_schema

    app.openapi = openapi

    @app.get("/healthz", include_in_schema=False)
    async def healthz():
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz():
        checks = await runtime.readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(app_factory: Callable[[], FastAPI], settings: ServiceSettings) -> None:
    """Run one service process until SIGTERM/SIGINT."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    uvicorn.run(
        app_factory(),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
