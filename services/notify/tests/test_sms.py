"""Residents who chose SMS get each text once, in their language, through whichever provider is
healthy; STOP, START, HELP and C work; receipts say what reached the handset."""
from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from standardwebhooks.webhooks import Webhook

from devstack.stack import DEMO_KESTREL
from devstack.testing import eventually, read_topic
from haulbridge_runtime import topics
from haulbridge_runtime.topics import EventType
from notify.events import KINDS
from notify.quiet_hours import held_until
from notify.resident_texts import REPLIES
from notify.sender import sweep
from notify.settings import NotifySettings
from notify.sms_routing import SmsRouter
from notify.templates_render import LANGUAGES, render_sms
from notify_events import booking_events, publish

LAN = "+14085551234"


async def _texts(provider, to: str = LAN) -> list[dict]:
    return (await provider.get("/_sim/messages", params={"to": to})).json()


async def _all_texts(pelican, kestrel, to: str = LAN) -> list[dict]:
    """What the handset got from either provider, in the order it arrived."""
    return sorted(await _texts(pelican, to) + await _texts(kestrel, to), key=lambda t: t["created_at"])


async def _sms(notify) -> list[dict]:
    async with notify.pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(
            "SELECT kind, status, provider, delivery_status, delivery_error, error, segments FROM notifications"
            " WHERE channel = 'sms' AND kind <> 'pickup_reminder' ORDER BY created_at")]


async def _settled(notify, count: int, delivery: str = "delivered") -> list[dict] | None:
    rows = await _sms(notify)
    return rows if len(rows) == count and all(r["delivery_status"] == delivery for r in rows) else None


async def test_a_resident_who_chose_vietnamese_sms_gets_the_vietnamese_texts_one_each(
        notify_sms, sms_settings, pelican, kestrel, mailbox):
    requested, confirmed = booking_events(email=None, phone=LAN, language="vi", channels=("sms",), name="Lan")
    await publish(sms_settings, requested, requested, confirmed, confirmed, confirmed)  # redelivered

    rows = await eventually(lambda: _settled(notify_sms, 2), what="both texts delivered")
    assert sorted(r["kind"] for r in rows) == ["booking_received", "pickup_confirmed"]
    texts = await _all_texts(pelican, kestrel)
    assert len(texts) == 2  # one each, however often the events came
    assert all(t["encoding"] == "UCS-2" for t in texts)  # Vietnamese needs UCS-2
    bodies = " ".join(t["body"] for t in texts)
    assert "JP-2026-000077" in bodies and "08:00" in bodies
    assert "Thu gom" in bodies or "thu gom" in bodies
    assert {r["segments"] for r in rows} <= {1, 2, 3, 4}
    assert mailbox.messages == []  # no email: she chose SMS only


async def test_a_resident_who_texted_stop_gets_no_more_sms_but_still_gets_email(
        notify_sms, sms_settings, pelican, kestrel, mailbox):
    requested, confirmed = booking_events(email="lan@example.org", phone=LAN, language="en",
                                          channels=("email", "sms"), name="Lan")
    await publish(sms_settings, requested)
    await eventually(lambda: _settled(notify_sms, 1), what="the received text")

    answer = (await pelican.post("/_sim/inbound", json={"from": LAN, "body": "Stop"})).json()
    assert answer["webhook_status"] == 200
    await eventually(lambda: _sent_kinds(notify_sms, "reply_stopped"), what="the STOP confirmation")

    await publish(sms_settings, confirmed)
    await eventually(lambda: _emails(mailbox, 2), what="the confirmation email")
    confirmation = await eventually(lambda: _one(notify_sms, "pickup_confirmed"), what="the text to be settled")
    assert confirmation["status"] == "not_sent" and confirmation["error"].startswith("the resident texted STOP")
    texts = [t["body"] for t in await _all_texts(pelican, kestrel)]
    assert len(texts) == 2 and "START" in texts[1]  # received, then the STOP confirmation: nothing after
    assert "Your junk pickup is confirmed" in mailbox.messages[1]["subject"]

    # START: texts again, for this booking and any later one.
    await kestrel.post("/_sim/inbound", json={"from": LAN, "text": "START"})
    await eventually(lambda: _sent_kinds(notify_sms, "reply_started"), what="the START confirmation")
    async with notify_sms.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM sms_opt_outs") == 0


async def test_help_and_c_are_answered_in_the_residents_language_and_c_tells_the_city(
        notify_sms, sms_settings, pelican, kestrel):
    requested, _ = booking_events(email=None, phone=LAN, language="es", channels=("sms",))
    await publish(sms_settings, requested)
    await eventually(lambda: _settled(notify_sms, 1), what="the received text")

    await pelican.post("/_sim/inbound", json={"from": LAN, "body": "ayuda"})
    await pelican.post("/_sim/inbound", json={"from": LAN, "body": "C"})
    await pelican.post("/_sim/inbound", json={"from": LAN, "body": "what?"})
    await eventually(lambda: _sent_kinds(notify_sms, "reply_help", "reply_items_out", "reply_not_understood"),
                     what="three replies")
    replies = [t for t in await _texts(pelican) if t["from"] == sms_settings.pelican_from][-3:]
    assert len(replies) == 3  # each reply went back through the provider the text came in on
    assert "STOP" in replies[0]["body"] and "C" in replies[0]["body"]
    # The city hears that the items will be out (on notify.v1), for the booking's pickup day.
    records = await eventually(lambda: _items_out_events(sms_settings), what="resident.items-out-confirmed")
    [event] = records
    assert event["data"] == {"booking_id": requested.data["booking_id"],
                             "pickup_date": requested.data["pickup_date"], "channel": "sms"}


async def test_the_same_inbound_webhook_five_times_is_one_stop_and_one_reply(notify_sms, sms_settings, kestrel):
    requested, _ = booking_events(email=None, phone=LAN, language="vi", channels=("sms",))
    await publish(sms_settings, requested)
    await eventually(lambda: _settled(notify_sms, 1), what="the received text")
    body = json.dumps({"type": "message.inbound", "data": {
        "id": "in_0001", "from": LAN, "to": DEMO_KESTREL["from"], "text": "Dừng", "received_at": "2026-11-29T05:00:00Z"}})
    signer = Webhook(DEMO_KESTREL["webhook_secret"])
    for _ in range(5):
        now = datetime.now(UTC)
        r = await notify_sms.post("/webhooks/sms/kestrel", content=body, headers={
            "webhook-id": "msg_in_0001", "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign("msg_in_0001", now, body), "content-type": "application/json"})
        assert r.status_code == 204
    await eventually(lambda: _sent_kinds(notify_sms, "reply_stopped"), what="the STOP confirmation")
    async with notify_sms.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbound_sms") == 1
        assert await conn.fetchval("SELECT keyword FROM inbound_sms") == "stop"  # "Dừng" is Vietnamese for stop
        assert await conn.fetchval("SELECT count(*) FROM notifications WHERE kind = 'reply_stopped'") == 1

    forged = await notify_sms.post("/webhooks/sms/kestrel", content=body, headers={
        "webhook-id": "msg_x", "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
        "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl", "content-type": "application/json"})
    assert forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"
    unsigned = await notify_sms.post("/webhooks/sms/pelican/inbound", content=b"From=%2B14085551234&Body=START",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 401  # and the number stays opted out
    async with notify_sms.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM sms_opt_outs WHERE phone = $1", LAN) == 1


async def test_when_one_provider_is_down_texts_fail_over_to_the_other_and_its_share_falls(
        notify_sms, sms_settings, pelican, kestrel):
    await pelican.put("/_sim/outage", json={"status": 503})
    residents = [f"+1408555{n:04d}" for n in range(1, 7)]
    for phone in residents:
        requested, _ = booking_events(email=None, phone=phone, language="en", channels=("sms",))
        await publish(sms_settings, requested)
    rows = await eventually(lambda: _settled(notify_sms, len(residents)), what="every text delivered")
    assert {r["provider"] for r in rows} == {"kestrel"}
    assert (await pelican.get("/_sim/stats")).json()["accepted"] == 0
    per_recipient = (await kestrel.get("/_sim/stats")).json()["per_recipient"]
    assert per_recipient == {phone: 1 for phone in residents}  # each once, none lost
    router = notify_sms.app.state.sender.router
    assert router.shares()["pelican"] < 0.2 < router.shares()["kestrel"]  # weights were 3 : 1


async def test_an_unreachable_handset_is_recorded_undelivered_with_the_providers_reason(
        notify_sms, sms_settings, pelican, kestrel):
    requested, _ = booking_events(email=None, phone="+14085550000", language="en", channels=("sms",))
    await publish(sms_settings, requested)
    [row] = await eventually(lambda: _settled(notify_sms, 1, delivery="undelivered"), what="the failed receipt")
    assert row["status"] == "sent" and row["delivery_error"]


async def test_no_answer_from_an_idempotent_provider_is_retried_with_the_same_key_and_sent_once(
        notify_sms, sms_settings, pelican, kestrel):
    await pelican.put("/_sim/outage", json={"status": 503})  # Kestrel it is
    await kestrel.post("/_sim/faults", json=[{"delay": 3}])  # accepted, but after our 1 s timeout
    requested, _ = booking_events(email=None, phone=LAN, language="en", channels=("sms",))
    await publish(sms_settings, requested)
    [row] = await eventually(lambda: _settled(notify_sms, 1), what="the text delivered")
    stats = (await kestrel.get("/_sim/stats")).json()
    assert stats["create_calls"] >= 2 and stats["per_recipient"] == {LAN: 1}  # sent again, delivered once
    assert row["provider"] == "kestrel"


async def test_no_answer_from_a_provider_without_idempotency_is_never_resent_and_its_receipt_settles_it(
        notify_sms, sms_settings, pelican, kestrel):
    await kestrel.put("/_sim/outage", json={"status": 503})
    await pelican.post("/_sim/faults", json=[{"delay": 3}])
    requested, _ = booking_events(email=None, phone=LAN, language="en", channels=("sms",))
    await publish(sms_settings, requested)
    # Pelican took it after our timeout: we do not know, so it is not re-sent ("unknown")... until
    # its status callback proves it was sent, and delivered.
    [row] = await eventually(lambda: _settled(notify_sms, 1), what="the receipt to settle the message")
    assert row["status"] == "sent" and row["provider"] == "pelican"
    assert (await pelican.get("/_sim/stats")).json()["per_recipient"] == {LAN: 1}


async def test_a_text_left_sending_by_a_crash_is_resent_only_where_the_provider_deduplicates(
        notify_sms, sms_settings, kestrel):
    requested, _ = booking_events(email=None, phone=LAN, language="en", channels=("sms",))
    booking_id = uuid.UUID(requested.data["booking_id"])
    # What a SIGKILL in the middle of a send leaves: the attempt and its provider recorded, "sending".
    async with notify_sms.pool.acquire() as conn:
        await conn.execute("INSERT INTO recipients (booking_id, reference, name, phone, language, channels,"
                           " pickup_date, manage_url) VALUES ($1, 'JP-2026-000077', 'Lan', $2, 'en', '{sms}', $3, $4)",
                           booking_id, LAN, date.today() + timedelta(days=6), requested.data["manage_url"])
        for kind, provider in (("booking_received", "kestrel"), ("pickup_confirmed", "pelican")):
            await conn.execute(
                "INSERT INTO notifications (id, booking_id, kind, channel, status, attempts, sending_at, provider,"
                " context) VALUES ($1, $2, $3, 'sms', 'sending', 1, now() - interval '1 hour', $4, '{}')",
                uuid.uuid4(), booking_id, kind, provider)
    await sweep(pool_getter=lambda: notify_sms.pool, settings=sms_settings)
    rows = {r["kind"]: r for r in await eventually(lambda: _settled_or_unknown(notify_sms), what="the sweep")}
    assert rows["booking_received"]["status"] == "sent"  # Kestrel: same idempotency key, sent at most once
    assert rows["pickup_confirmed"]["status"] == "unknown"  # Pelican: never re-sent blindly
    assert "not re-sent" in rows["pickup_confirmed"]["error"]


async def _items_out_events(settings) -> list[dict]:
    records = await read_topic(settings.kafka_bootstrap_servers,
                               topics.qualified(topics.NOTIFY, settings.topic_prefix), expect=1000, timeout=2)
    return [e for e in map(lambda r: json.loads(r.value), records) if e["type"] == EventType.ITEMS_OUT_CONFIRMED]


async def _settled_or_unknown(notify):
    rows = await _sms(notify)
    return rows if {r["status"] for r in rows} == {"sent", "unknown"} else None


async def _sent_kinds(notify, *kinds: str) -> bool:
    async with notify.pool.acquire() as conn:
        sent = {r["kind"] for r in await conn.fetch("SELECT kind FROM notifications WHERE status = 'sent'")}
    return set(kinds) <= sent


async def _one(notify, kind: str) -> dict | None:
    rows = [r for r in await _sms(notify) if r["kind"] == kind and r["status"] not in ("created", "sending")]
    return rows[0] if rows else None


async def _emails(mailbox, count: int) -> bool:
    return len(mailbox.messages) >= count


# -- the rules, without the wire ---------------------------------------------------------------

SMS_KINDS = sorted(set(KINDS) | set(REPLIES.values()))
MANAGE_URL = ("https://junk.sanjoseca.gov/v1/bookings/JP-2026-000123?token="
              "ImI1ZjNkMGE4LTk4YzMtNDk1Ny1hYjU3LWE3ZTc5YjU4ZGM5YiI.Zq3x9d8kLmNoPqRsTuVwXyZ012")


@pytest.mark.parametrize("kind", SMS_KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_renders_in_every_language_within_the_segment_limit(kind, language):
    limit = NotifySettings.model_fields["sms_max_segments"].default
    for extra in ({}, {"window": {"from": "08:00", "to": "12:00"}, "reason": "truck repairs", "by": "hauler",
                       "previous_pickup_date": "2026-12-03", "hauler_name": "Valley Haul Co."}):
        rendered = render_sms(kind, language, {"name": "Lan Nguyen", "reference": "JP-2026-000123",
                                               "manage_url": MANAGE_URL, "pickup_date": date(2026, 12, 8), **extra})
        assert rendered.language == language
        assert rendered.segments.count <= limit, (rendered.segments, rendered.text)
        assert "{{" not in rendered.text and rendered.text == rendered.text.strip()
        if language == "vi":
            assert rendered.segments.encoding == "UCS-2"


def test_quiet_hours_hold_texts_until_morning_except_same_day_changes_and_replies():
    settings = NotifySettings()
    evening_city = datetime.fromisoformat("2026-12-07T22:30:00-08:00")
    morning = datetime.fromisoformat("2026-12-08T08:00:00-08:00")
    assert held_until("booking_received", [date(2026, 12, 15)], evening_city, settings) == morning
    assert held_until("pickup_reminder", [date(2026, 12, 8)], evening_city, settings) == morning
    # A pickup moved away from tomorrow morning: the resident must know before putting items out.
    assert held_until("booking_rescheduled", [date(2026, 12, 10), date(2026, 12, 8)], evening_city, settings) is None
    assert held_until("booking_rescheduled", [date(2026, 12, 20), date(2026, 12, 15)], evening_city,
                      settings) == morning
    assert held_until("reply_help", [], evening_city, settings) is None
    early = datetime.fromisoformat("2026-12-08T06:10:00-08:00")
    assert held_until("booking_received", [], early, settings) == morning
    afternoon = datetime.fromisoformat("2026-12-08T14:00:00-08:00")
    assert held_until("booking_received", [], afternoon, settings) is None


def test_a_failing_providers_share_falls_and_drifts_back_as_it_recovers():
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    pelican, kestrel = SimpleNamespace(name="pelican", weight=3.0), SimpleNamespace(name="kestrel", weight=1.0)
    router = SmsRouter([pelican, kestrel], window_seconds=60, min_share=0.05, rng=random.Random(7), clock=clock)
    assert router.shares() == {"pelican": 0.75, "kestrel": 0.25}  # by weight while both are healthy

    def first_choices(n: int = 400) -> float:
        return sum(router.order()[0].name == "pelican" for _ in range(n)) / n

    for _ in range(20):  # Pelican starts failing
        clock.now += 1
        router.record("pelican", False, "not_taken")
    assert router.shares()["pelican"] < 0.15 and first_choices() < 0.2
    assert [p.name for p in router.order("pelican")] == ["pelican"]  # a pinned text waits for its provider

    # It recovers: the few texts it still gets succeed, its failures age out, its share comes back.
    shares = []
    for _ in range(12):
        clock.now += 10
        router.record("pelican", True, "sent")
        shares.append(router.shares()["pelican"])
    assert shares == sorted(shares) and shares[0] < 0.5 < shares[-1]
    assert router.shares()["pelican"] == 0.75 and 0.6 < first_choices() < 0.9
