"""Adapter tests run the real adapters app in-process against a real hauler simulator over HTTP."""
from __future__ import annotations

import json

import pytest

from devstack.infra import free_port
from devstack.stack import DEMO_JSON_HAULER, DEMO_NORTHSIDE, NORTHSIDE_CONFIG, VALLEY_HAUL_OAUTH2
from devstack.testing import http_server, in_process
from hauler_adapters.app import build_app
from hauler_adapters.settings import AdapterSettings
from haulbridge_simulators.email_office import EmailOfficeSettings, Office
from haulbridge_simulators.declarative_hauler import DeclarativeHaulerSettings
from haulbridge_simulators.declarative_hauler import build_app as build_northside
from haulbridge_simulators.json_hauler import JsonHaulerSettings, build_app as build_hauler


@pytest.fixture
def adapter_port() -> int:
    return free_port()


@pytest.fixture
async def hauler(adapter_port):
    """Valley Haul Co.'s job API, on real HTTP; webhooks aimed at the adapters under test."""
    port = free_port()
    settings = JsonHaulerSettings(port=port, api_key=DEMO_JSON_HAULER["api_key"],
                                  webhook_secret=DEMO_JSON_HAULER["webhook_secret"],
                                  webhook_url=f"http://127.0.0.1:{adapter_port}/webhooks/valley-haul",
                                  confirm_delay=3600, complete_delay=3600,  # tests send webhooks themselves
                                  client_secret=DEMO_JSON_HAULER["api_key"], oauth_only=True)
    async with http_server(build_hauler(settings), port) as url:
        yield url


@pytest.fixture
def northside_settings() -> DeclarativeHaulerSettings:
    return DeclarativeHaulerSettings(port=free_port(), client_secret=DEMO_NORTHSIDE["client_secret"],
                                     schedule_delay=0.3, complete_delay=0.3)


@pytest.fixture
async def northside(northside_settings):
    """Northside Clean-Out's API (OAuth2, its own names and status words), on real HTTP."""
    async with http_server(build_northside(northside_settings), northside_settings.port) as url:
        yield url


@pytest.fixture
def adapter_settings(database, infra, topic_prefix, hauler, northside, reply_port, tmp_path,
                     monkeypatch) -> AdapterSettings:
    monkeypatch.setenv("VALLEY_HAUL_API_KEY", DEMO_JSON_HAULER["api_key"])
    monkeypatch.setenv("VALLEY_HAUL_WEBHOOK_SECRET", DEMO_JSON_HAULER["webhook_secret"])
    monkeypatch.setenv("NORTHSIDE_CLIENT_SECRET", DEMO_NORTHSIDE["client_secret"])
    integrations = tmp_path / "integrations.json"
    integrations.write_text(json.dumps([{
        "hauler_id": "valley-haul", "kind": "json_api", "base_url": hauler,
        "api_key_env": "VALLEY_HAUL_API_KEY", "webhook_secret_env": "VALLEY_HAUL_WEBHOOK_SECRET",
        "config": {"oauth2": VALLEY_HAUL_OAUTH2},
    }, {
        "hauler_id": "northside-cleanout", "kind": "declarative_json", "base_url": northside,
        "api_key_env": "NORTHSIDE_CLIENT_SECRET", "config": NORTHSIDE_CONFIG,
    }]))
    return AdapterSettings(database_url=database["hauler-adapters"], kafka_bootstrap_servers=infra.bootstrap,
                           topic_prefix=topic_prefix, integrations_file=integrations, poll_seconds=0.2,
                           reply_smtp_port=reply_port, operator_token="adapters-test-operator-token",
                           vendor_max_attempts=3, vendor_retry_initial_seconds=0.05, vendor_retry_max_seconds=0.2)


@pytest.fixture
async def adapters(adapter_settings):
    app = build_app(adapter_settings)
    async with in_process(app) as client:
        client.pool = app.state.runtime.pool
        yield client


@pytest.fixture
def reply_port() -> int:
    return free_port()


@pytest.fixture
async def office(adapter_port, reply_port):
    """Eastside Junk Dispatch: an inbox over SMTP and a dispatcher who clicks and replies (tests answer
    for it: auto_answer off)."""
    settings = EmailOfficeSettings(smtp_port=free_port(), http_port=free_port(), reply_port=reply_port,
                                   auto_answer=False)
    office = await Office(settings).start()
    yield office
    await office.close()


@pytest.fixture
def email_settings(adapter_settings, office, adapter_port, reply_port, tmp_path, monkeypatch) -> AdapterSettings:
    """The adapters with Eastside's email integration besides the others, replies on their own port."""
    monkeypatch.setenv("EASTSIDE_LINK_SECRET", "eastside-test-link-secret")
    integrations = json.loads(adapter_settings.integrations_file.read_text()) + [{
        "hauler_id": "eastside-junk", "kind": "email", "base_url": f"smtp://127.0.0.1:{office.settings.smtp_port}",
        "webhook_secret_env": "EASTSIDE_LINK_SECRET",
        "config": {"to": office.settings.office_address, "from": "Haulbridge dispatch <dispatch@haulbridge.example>",
                   "reply_to": "replies@dispatch.haulbridge.example",
                   "links_base_url": f"http://127.0.0.1:{adapter_port}"}}]
    path = tmp_path / "integrations-with-email.json"
    path.write_text(json.dumps(integrations))
    return adapter_settings.model_copy(update={"integrations_file": path})


@pytest.fixture
async def adapters_http(email_settings, adapter_port):
    """The adapters in-process and over real HTTP (the vendor page is clicked from outside)."""
    app = build_app(email_settings)
    async with in_process(app) as client, http_server(app, adapter_port):
        client.pool = app.state.runtime.pool
        yield client
