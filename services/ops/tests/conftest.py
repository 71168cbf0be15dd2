"""Ops tests run the real ops app in-process on the real PostgreSQL and broker; events reach it
the way the other services publish them, through Kafka."""
from __future__ import annotations

import pytest

from devstack.testing import in_process
from ops.app import build_app
from ops.settings import OpsSettings
from ops_console import PASSWORD


@pytest.fixture
def ops_settings(database, infra, topic_prefix) -> OpsSettings:
    # The other services are not running in these tests: their URLs point at a closed port.
    return OpsSettings(database_url=database["ops"], kafka_bootstrap_servers=infra.bootstrap,
                       topic_prefix=topic_prefix, session_secret="ops-test-session-secret", scrape_seconds=60,
                       live_seconds=0.2, booking_url="http://127.0.0.1:9", adapters_url="http://127.0.0.1:9",
                       notify_url="http://127.0.0.1:9")


@pytest.fixture
async def ops(ops_settings):
    app = build_app(ops_settings)
    async with in_process(app) as client:
        client.app = app
        client.pool = app.state.runtime.pool
        for username, role in (("vic", "viewer"), ("omar", "operator"), ("ada", "admin")):
            from ops import staff

            await staff.create(client.pool, username=username, display_name=username.title(), role=role,
                               password=PASSWORD)
        yield client
