"""Every service logs JSON lines, each with a correlation id, and never a resident's contact
details or a secret: the platform is run with a known email, phone number, token and password,
and every service's log is scanned for them."""
from __future__ import annotations

import json
import re

import httpx
import pytest

from devstack.stack import DEMO_JSON_HAULER, DEMO_KESTREL, DEMO_PELICAN, DEMO_SOUTH_BAY, DEMO_WESTSIDE
from devstack.testing import Urls, booking_body, booking_status, eventually, read_topic
from haulbridge_runtime import topics

pytestmark = pytest.mark.e2e

SERVICES = ("booking", "hauler-adapters", "notify", "ops")
EMAIL = "canary.resident.7f3a@example.org"
PHONE = "+14085550177"


async def test_service_logs_are_json_with_a_correlation_id_and_hold_no_contact_details_or_secrets(
        platform_factory, infra, topic_prefix):
    platform = platform_factory()
    platform.start_all()
    password = platform.create_staff("ada", role="admin")
    urls = Urls(platform)
    console = f"http://127.0.0.1:{platform.ports.ops}"
    async with httpx.AsyncClient(timeout=15) as client:
        created = await client.post(f"{urls.booking}/v1/bookings", json=booking_body(
            contact={"name": "Casey Canary", "email": EMAIL, "phone": PHONE, "language": "en",
                     "channels": ["email", "sms"]}))
        assert created.status_code == 201, created.text
        booking = created.json()
        # staff at work: the operator token on every service (and a wrong one), a console sign-in
        for url in (urls.booking, urls.adapters, urls.notify):
            for token in (platform.operator_token, platform.operator_token + "x"):
                await client.get(f"{url}/admin/v1/dead-letters", headers={"authorization": f"Bearer {token}"})
        login_page = await client.get(f"{console}/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
        signed_in = await client.post(f"{console}/login", data={"username": "ada", "password": password,
                                                                "csrf_token": csrf})
        assert signed_in.status_code == 303
        await client.post(f"{console}/login", data={"username": "ada", "password": password + "-wrong",
                                                    "csrf_token": csrf})
        await eventually(lambda: _completed(client, urls, booking), timeout=120, what="the pickup completed")
        await eventually(lambda: _mail_to(client, urls, EMAIL), what="an email to the resident")
    [requested] = await read_topic(infra.bootstrap, topics.qualified(topics.BOOKING, topic_prefix), expect=1)
    correlation_id = json.loads(requested.value)["correlationid"]
    platform.stop_all()  # every line written and flushed

    secrets = {"operator token": platform.operator_token, "staff password": password,
               "session secret": platform.ops_session_secret, "Valley Haul API key": DEMO_JSON_HAULER["api_key"],
               "Pelican auth token": DEMO_PELICAN["auth_token"], "Kestrel API key": DEMO_KESTREL["api_key"],
               "South Bay SFTP password": DEMO_SOUTH_BAY["password"],
               "Westside SOAP password": DEMO_WESTSIDE["password"]}
    contacts = {"email": EMAIL, "email's local part": EMAIL.split("@")[0], "phone": PHONE,
                "phone's digits": "4085550177", "name": "Casey Canary"}
    about_the_booking = 0
    for service in SERVICES:
        text = (platform.run_dir / f"{service}.log").read_text()
        for what, value in {**secrets, **contacts}.items():
            assert value not in text, f"{service}'s log holds the {what}"
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, f"{service} logged nothing"
        for line in lines:
            entry = json.loads(line)  # every line is one JSON object
            assert entry.get("correlation_id"), f"{service}: a line without a correlation id: {line}"
            if entry.get("booking_id") == booking["id"] and entry.get("event_id"):
                # while one of the booking's events is handled, its lines carry the booking's correlation id
                assert entry["correlation_id"] == correlation_id, line
                about_the_booking += 1
    assert about_the_booking  # the booking's events were handled, and said so


async def _completed(client, urls, booking) -> bool:
    return await booking_status(client, urls, booking) == "completed"


async def _mail_to(client, urls, address: str) -> bool:
    return any(address in m["rcpt_to"] for m in (await client.get(f"{urls.mail}/messages")).json())
