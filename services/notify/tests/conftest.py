"""Notify tests run the real notify app in-process against a real SMTP server (the dev mail sink)."""
from __future__ import annotations

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from devstack.infra import free_port
from devstack.stack import DEMO_KESTREL, DEMO_PELICAN
from devstack.testing import http_server, in_process
from haulbridge_simulators.sms_kestrel import KestrelSettings
from haulbridge_simulators.sms_kestrel import build_app as build_kestrel
from haulbridge_simulators.sms_pelican import PelicanSettings
from haulbridge_simulators.sms_pelican import build_app as build_pelican
from haulbridge_simulators.smtp_sink import Mailbox
from notify.app import build_app
from notify.settings import NotifySettings


@pytest.fixture
def mailbox():
    """The development mail server; its delivery reports go to the notify under test."""
    box = Mailbox(return_port=free_port())
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture
def notify_settings(database, infra, topic_prefix, mailbox) -> NotifySettings:
    return NotifySettings(database_url=database["notify"], kafka_bootstrap_servers=infra.bootstrap,
                          topic_prefix=topic_prefix, smtp_port=mailbox.port, send_retry_initial_seconds=0.1,
                          send_poll_seconds=0.5, operator_token="notify-test-operator-token",
                          bounce_smtp_port=mailbox.return_port)


@pytest.fixture
async def notify(notify_settings):
    app = build_app(notify_settings)
    async with in_process(app) as client:
        client.pool = app.state.runtime.pool
        yield client


# -- SMS: both providers' simulators on real HTTP, and notify reachable over HTTP for their callbacks --

@pytest.fixture
def notify_port() -> int:
    return free_port()


@pytest.fixture
async def pelican(notify_port):
    """Pelican SMS (Twilio-style), its inbound texts aimed at the notify under test."""
    port = free_port()
    settings = PelicanSettings(port=port, account_sid=DEMO_PELICAN["account_sid"], auth_token=DEMO_PELICAN["auth_token"],
                               from_number=DEMO_PELICAN["from"], receipt_delay=0.05,
                               inbound_webhook_url=f"http://127.0.0.1:{notify_port}/webhooks/sms/pelican/inbound")
    async with http_server(build_pelican(settings), port) as url:
        yield httpx.AsyncClient(base_url=url, timeout=10)


@pytest.fixture
async def kestrel(notify_port):
    """Kestrel Messaging (JSON, idempotency keys, Standard Webhooks)."""
    port = free_port()
    settings = KestrelSettings(port=port, api_key=DEMO_KESTREL["api_key"], sender_id=DEMO_KESTREL["from"],
                               webhook_secret=DEMO_KESTREL["webhook_secret"], receipt_delay=0.05,
                               webhook_url=f"http://127.0.0.1:{notify_port}/webhooks/sms/kestrel")
    async with http_server(build_kestrel(settings), port) as url:
        yield httpx.AsyncClient(base_url=url, timeout=10)


@pytest.fixture
def sms_settings(notify_settings, notify_port, pelican, kestrel) -> NotifySettings:
    return notify_settings.model_copy(update={
        "public_base_url": f"http://127.0.0.1:{notify_port}",
        "pelican_base_url": str(pelican.base_url), "pelican_account_sid": DEMO_PELICAN["account_sid"],
        "pelican_auth_token": SecretStr(DEMO_PELICAN["auth_token"]), "pelican_from": DEMO_PELICAN["from"],
        "kestrel_base_url": str(kestrel.base_url), "kestrel_api_key": SecretStr(DEMO_KESTREL["api_key"]),
        "kestrel_webhook_secret": SecretStr(DEMO_KESTREL["webhook_secret"]), "kestrel_from": DEMO_KESTREL["from"],
        "sms_timeout_seconds": 1.0, "sms_quiet_from_hour": 0, "sms_quiet_until_hour": 0,  # no quiet hours here
    })


@pytest.fixture
async def notify_sms(sms_settings, notify_port):
    """Notify with both SMS providers, served over real HTTP too (the providers call it back)."""
    app = build_app(sms_settings)
    async with in_process(app) as client, http_server(app, notify_port):
        client.pool = app.state.runtime.pool
        client.app = app
        yield client
