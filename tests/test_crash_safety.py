"""A process killed (SIGKILL) between its side effect and its commit loses nothing and duplicates nothing."""
from __future__ import annotations

import signal

import httpx
import pytest

from devstack.testing import Urls, booking_body, booking_status, eventually, manage_path

pytestmark = pytest.mark.e2e


async def test_adapters_killed_after_calling_the_hauler_still_leave_exactly_one_job(platform_factory):
    platform = platform_factory()
    platform.start_all()
    # Restart the adapters armed to die right after the hauler answered, before the commit.
    platform.stop("hauler-adapters")
    adapters = platform.start("hauler-adapters", env={"HAULBRIDGE_FAILPOINTS": "adapters.after_vendor_call"})
    urls = Urls(platform)
    async with httpx.AsyncClient(timeout=10) as client:
        booking = (await client.post(f"{urls.booking}/v1/bookings", json=booking_body())).json()

        await eventually(lambda: adapters.popen.poll() is not None, what="the adapters process to die")
        assert adapters.popen.returncode == -signal.SIGKILL
        stats = (await client.get(f"{urls.hauler}/_sim/stats")).json()
        assert stats["jobs_per_customer_reference"] == {booking["id"]: 1}
        # Nothing was committed: the booking.requested event is still unprocessed, so it is
        # redelivered to the restarted process rather than lost.
        assert await booking_status(client, urls, booking) == "requested"

        platform.processes.pop("hauler-adapters")
        platform.start("hauler-adapters")
        # The hauler's webhooks may complete the booking before the replayed event is
        # dispatched again; wait for both, whatever their order.
        await eventually(lambda: _completed_and_sent(client, urls, booking), timeout=120,
                         what="the booking to complete and the replayed dispatch to be recorded")

        stats = (await client.get(f"{urls.hauler}/_sim/stats")).json()
        # The event was replayed (a second create call) and the idempotency key made it the same job.
        assert stats["create_calls_per_customer_reference"] == {booking["id"]: 2}
        assert stats["jobs_per_customer_reference"] == {booking["id"]: 1}


async def test_notify_killed_after_sending_an_email_never_sends_it_twice(platform_factory):
    platform = platform_factory(extra_env={"notify": {"HAULBRIDGE_FAILPOINTS": "notify.after_send"}})
    platform.start_all()
    urls = Urls(platform)
    notify = platform.processes["notify"]
    async with httpx.AsyncClient(timeout=10) as client:
        booking = (await client.post(f"{urls.booking}/v1/bookings", json=booking_body())).json()

        await eventually(lambda: notify.popen.poll() is not None, what="notify to die after its first send")
        assert notify.popen.returncode == -signal.SIGKILL
        mails = (await client.get(f"{urls.mail}/messages")).json()
        assert len(mails) == 1  # the first message went out, then the process died before recording it
        assert mails[0]["subject"] == f"We have your junk pickup request ({booking['reference']})"

        platform.processes.pop("notify")
        platform.start("notify", env={"HAULBRIDGE_FAILPOINTS": ""})
        await eventually(lambda: _is(client, urls, booking, "completed"), timeout=120,
                         what="the booking to complete")
        mails = await eventually(lambda: _mails(client, urls, 3), what="the confirmation and completion emails")
        kinds = {f"We have your junk pickup request ({booking['reference']})": "booking_received",
                 f"Your junk pickup is confirmed ({booking['reference']})": "pickup_confirmed",
                 f"Your junk pickup is done ({booking['reference']})": "pickup_completed"}
        assert sorted(m["subject"] for m in mails) == sorted(kinds)  # each once: nothing sent twice
        # The interrupted message was kept as "sending" (the attempt recorded before the send) and
        # never re-sent; the mail server's delivery report, retried until notify was back, then
        # proved it sent and delivered. (Without a report the sweeper marks it "unknown".)
        expected = {(kind, "sent", "delivered") for kind in kinds.values()} | {("pickup_reminder", "withdrawn", None)}
        await eventually(lambda: _emails_are(client, urls, booking, expected),
                         what="every email settled by its delivery report")


async def _emails_are(client, urls, booking, expected):
    messages = (await client.get(f"{urls.notify}/v1/bookings/{booking['id']}/notifications")).json()
    emails = [m for m in messages if m["channel"] == "email"]
    return emails if {(m["kind"], m["status"], m["delivery_status"]) for m in emails} == expected else None


async def test_notify_killed_after_a_provider_took_a_text_never_sends_it_twice(platform_factory):
    # Kestrel only (it de-duplicates by our idempotency key); the sweeper runs often.
    platform = platform_factory(extra_env={"notify": {
        "HAULBRIDGE_FAILPOINTS": "notify.after_send", "NOTIFY_PELICAN_WEIGHT": "0",
        "NOTIFY_SENDING_TIMEOUT_SECONDS": "1", "NOTIFY_SWEEP_SECONDS": "0.5",
        "NOTIFY_SMS_QUIET_FROM_HOUR": "0", "NOTIFY_SMS_QUIET_UNTIL_HOUR": "0"}})  # whatever the hour of the run
    platform.start_all()
    urls = Urls(platform)
    notify = platform.processes["notify"]
    phone = "+14085551234"
    contact = {"name": "Lan", "phone": phone, "language": "vi", "channels": ["sms"]}
    async with httpx.AsyncClient(timeout=10) as client:
        booking = (await client.post(f"{urls.booking}/v1/bookings", json=booking_body(contact=contact))).json()

        await eventually(lambda: notify.popen.poll() is not None, what="notify to die after its first text")
        assert notify.popen.returncode == -signal.SIGKILL
        assert (await client.get(f"{urls.kestrel}/_sim/stats")).json()["per_recipient"] == {phone: 1}

        platform.processes.pop("notify")
        platform.start("notify", env={"HAULBRIDGE_FAILPOINTS": ""})
        await eventually(lambda: _is(client, urls, booking, "completed"), timeout=120, what="the booking to complete")
        messages = await eventually(lambda: _texts_sent(client, urls, booking, 3), what="three texts sent")
        assert {m["kind"] for m in messages} == {"booking_received", "pickup_confirmed", "pickup_completed"}
        # The interrupted text was re-driven with the same idempotency key (or settled by its
        # receipt first): the resident's phone got each text once.
        assert (await client.get(f"{urls.kestrel}/_sim/stats")).json()["per_recipient"] == {phone: 3}
        texts = (await client.get(f"{urls.kestrel}/_sim/messages", params={"to": phone})).json()
        assert all(t["encoding"] == "UCS-2" for t in texts)  # in Vietnamese


async def _texts_sent(client, urls, booking, expect):
    messages = (await client.get(f"{urls.notify}/v1/bookings/{booking['id']}/notifications")).json()
    sent = [m for m in messages if m["channel"] == "sms" and m["status"] == "sent"]
    return sent if len(sent) == expect else None


async def _completed_and_sent(client, urls, booking) -> bool:
    view = (await client.get(urls.booking + manage_path(booking))).json()
    return view["status"] == "completed" and any(s["step"] == "sent_to_hauler" for s in view["timeline"])


async def _is(client, urls, booking, status) -> bool:
    return await booking_status(client, urls, booking) == status


async def _mails(client, urls, expect):
    mails = (await client.get(f"{urls.mail}/messages")).json()
    return mails if len(mails) >= expect else None
