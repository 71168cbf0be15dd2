"""Notify tests run the real notify app in-process against a real SMTP server (the dev mail sink)."""
from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from devstack.infra import free_port
from devstack.testing import in_process
from haulbridge_simulators.smtp_sink import Mailbox
from notify.app import build_app
from notify.settings import NotifySettings


@pytest.fixture
def mailbox():
    box = Mailbox()
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
                          send_poll_seconds=0.5, operator_token="notify-test-operator-token")


@pytest.fixture
async def notify(notify_settings):
    app = build_app(notify_settings)
    async with in_process(app) as client:
        client.pool = app.state.runtime.pool
        yield client
