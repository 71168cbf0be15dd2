"""One junk pickup goes all the way round, through separate processes that talk only through Kafka."""
from __future__ import annotations

import httpx
import pytest

from devstack.contracts import validate_event
from devstack.testing import Urls, booking_body, booking_status, eventually, manage_path, read_topic
from haulbridge_runtime import topics

pytestmark = pytest.mark.e2e


async def test_a_booking_is_dispatched_confirmed_completed_and_the_resident_gets_two_emails(
    platform_factory, infra, topic_prefix
):
    platform = platform_factory()
    platform.start_all()
    urls = Urls(platform)
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(f"{urls.booking}/v1/bookings", json=booking_body())
        assert created.status_code == 201, created.text
        booking = created.json()
        assert booking["status"] == "requested"
        assert booking["hauler"] == "Valley Haul Co."
        assert booking["reference"].startswith("JP-")
        assert created.headers["location"] == f"/v1/bookings/{booking['reference']}"

        await eventually(lambda: _is(client, urls, booking, "completed"), timeout=90,
                         what="the booking to complete")

        # The hauler saw exactly one job for this booking, by its own count.
        stats = (await client.get(f"{urls.hauler}/_sim/stats")).json()
        assert stats["jobs_per_customer_reference"] == {booking["id"]: 1}

        # The resident got exactly three emails: received, confirmed, then completed.
        mails = await eventually(lambda: _mails(client, urls, expect=3), what="three emails")
        assert sorted(m["subject"] for m in mails) == sorted([
            f"We have your junk pickup request ({booking['reference']})",
            f"Your junk pickup is confirmed ({booking['reference']})",
            f"Your junk pickup is done ({booking['reference']})",
        ])
        assert all(m["rcpt_to"] == ["alex@example.org"] for m in mails)
        assert all(m["message_id"].endswith("@haulbridge.notify>") for m in mails)
        assert all(m["html"] and m["text"] for m in mails)  # plain text with an HTML alternative

        # The timeline shows every step, with its source.
        view = (await client.get(urls.booking + manage_path(booking))).json()
        steps = [(s["step"], s["status"], s["source"]) for s in view["timeline"]]
        assert steps == [
            ("received", "requested", "resident:web"),
            ("sent_to_hauler", "dispatched", "hauler:valley-haul"),
            ("confirmed", "confirmed", "hauler:valley-haul"),
            ("completed", "completed", "hauler:valley-haul"),
        ]
        assert view["hauler_reference"].startswith("VH-")
        assert view["target_date"] == booking["pickup_date"]

    # Every event produced on the way matches its JSON Schema in contracts/events,
    # and all of one booking's events share its correlation id.
    produced = []
    for topic, expect in ((topics.BOOKING, 1), (topics.HAULER, 3), (topics.NOTIFY, 3)):
        records = await read_topic(infra.bootstrap, topics.qualified(topic, topic_prefix), expect=expect)
        assert len(records) == expect, f"{topic}: {len(records)} records"
        produced += records
    import json

    events = [json.loads(r.value) for r in produced]
    for record, event in zip(produced, events):
        validate_event(event)
        assert record.key.decode() == booking["id"]
    assert {e["correlationid"] for e in events} == {events[0]["correlationid"]}


async def _is(client, urls, booking, status) -> bool:
    return await booking_status(client, urls, booking) == status


async def _mails(client, urls, expect):
    mails = (await client.get(f"{urls.mail}/messages")).json()
    return mails if len(mails) >= expect else None


@pytest.mark.parametrize("address, hauler", [
    ("1660 Park Ave, San Jose, CA 95126", "Westside Recovery"),  # SOAP work orders, polled
    ("1700 Alum Rock Ave, San Jose, CA 95116", "Eastside Junk Dispatch"),  # email: a click, then a reply
    ("925 Blossom Hill Rd, San Jose, CA 95123", "South Bay Haulers"),  # daily files over SFTP
    ("170 W Tasman Dr, San Jose, CA 95134", "Northside Clean-Out"),  # JSON by configuration, OAuth2, polled
])
async def test_bookings_for_haulers_without_webhooks_are_confirmed_and_completed(
        platform_factory, address, hauler):
    platform = platform_factory()
    platform.start_all()
    urls = Urls(platform)
    async with httpx.AsyncClient(timeout=10) as client:
        slots = (await client.get(f"{urls.booking}/v1/availability", params={"address": address})).json()
        day = slots["dates"][0]["date"]
        created = await client.post(f"{urls.booking}/v1/bookings", json=booking_body(address=address, pickup_date=day))
        assert created.status_code == 201, created.text
        booking = created.json()
        assert booking["hauler"] == hauler
        await eventually(lambda: _is(client, urls, booking, "completed"), timeout=90, what="the booking to complete")
        view = (await client.get(urls.booking + manage_path(booking))).json()
        steps = [s["step"] for s in view["timeline"]]
        assert steps[:2] == ["received", "sent_to_hauler"] and steps[-1] == "completed"  # files have no "confirmed"
