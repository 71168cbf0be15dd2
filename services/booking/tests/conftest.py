"""Booking service tests run the real app in-process, on a real database and broker."""
from __future__ import annotations

import pytest

from booking.admin import DEMO_CITY
from booking.app import build_app
from booking.places.importer import import_city
from booking.settings import BookingSettings
from devstack.testing import in_process
from haulbridge_runtime.db import connect


@pytest.fixture
def booking_settings(database, infra, topic_prefix) -> BookingSettings:
    return BookingSettings(database_url=database["booking"], kafka_bootstrap_servers=infra.bootstrap,
                           topic_prefix=topic_prefix)


@pytest.fixture
async def booking_api(booking_settings):
    """An HTTP client on the running booking service, with the demo city loaded."""
    app = build_app(booking_settings)
    async with in_process(app) as client:
        conn = await connect(booking_settings.database_url, booking_settings.db_schema)
        try:
            await import_city(conn, DEMO_CITY)
        finally:
            await conn.close()
        client.app = app
        yield client


@pytest.fixture
async def booking_db(booking_settings):
    conn = await connect(booking_settings.database_url, booking_settings.db_schema)
    yield conn
    await conn.close()
