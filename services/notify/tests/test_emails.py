"""Residents are emailed once per message, however often an event is redelivered."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from devstack.infra import free_port
from devstack.testing import eventually, in_process
from haulbridge_runtime import topics
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.kafka import new_producer
from haulbridge_runtime.topics import EventType
from notify.app import build_app
from notify.templates_render import render_email


def _events(email: str = "maria@example.org", language: str = "es"):
    booking_id = str(uuid.uuid4())
    pickup = (date.today() + timedelta(days=6)).isoformat()
    requested = new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/booking", subject=booking_id, data={
        "booking_id": booking_id, "reference": "JP-2026-000077", "hauler_id": "valley-haul", "zone_id": "downtown",
        "pickup_date": pickup, "target_date": pickup,
        "address": {"text": "1300 Senter Rd, San Jose, CA 95112", "latitude": 37.3257, "longitude": -121.861},
        "items": [{"item": "washer", "label": "Washing machine", "quantity": 1}],
        "contact": {"name": "María", "email": email, "phone": None, "language": language, "channels": ["email"]},
        "notes": None, "channel": "app", "manage_url": f"http://127.0.0.1:8001/v1/bookings/{booking_id}",
    })
    confirmed = new_event(type=EventType.PICKUP_CONFIRMED, source="/haulbridge/hauler-adapters",
                          subject=booking_id, caused_by=requested, data={
                              "booking_id": booking_id, "hauler_id": "valley-haul", "reference": "JP-2026-000077",
                              "hauler_reference": "VH-000077", "pickup_date": pickup,
                              "window": {"from": "08:00", "to": "12:00"}})
    return requested, confirmed


async def _publish(settings, *events):
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topics.qualified(e.topic, settings.topic_prefix), e.to_bytes(),
                                         key=e.subject.encode())
    finally:
        await producer.stop()


async def _statuses(notify) -> list[tuple]:
    async with notify.pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch("SELECT kind, status FROM notifications ORDER BY created_at")]


async def test_a_confirmation_redelivered_three_times_is_emailed_once(notify, notify_settings, mailbox):
    requested, confirmed = _events()
    await _publish(notify_settings, requested, confirmed, confirmed, confirmed)
    await eventually(lambda: _statuses(notify), what="a notification")
    await eventually(lambda: _is_sent(notify), what="the email to be sent")
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["rcpt_to"] == ["maria@example.org"]
    assert "08:00" in mail["text"] and "JP-2026-000077" in mail["text"]
    assert mail["headers"]["Content-Language"] == "en"  # Spanish templates arrive with the notify issue


async def test_a_confirmation_that_arrives_before_the_booking_waits_for_the_contact(notify, notify_settings, mailbox):
    requested, confirmed = _events()
    await _publish(notify_settings, confirmed)  # hauler.v1 ahead of booking.v1
    await eventually(lambda: _statuses(notify), what="the notification to be created")
    await asyncio.sleep(1)
    assert mailbox.messages == []  # nobody to send to yet; the message waits, it is not dropped
    await _publish(notify_settings, requested)
    await eventually(lambda: _is_sent(notify), what="the email once the contact is known")
    assert len(mailbox.messages) == 1


async def test_when_the_mail_server_is_down_the_message_waits_with_its_error_for_a_retry(notify_settings):
    down = notify_settings.model_copy(update={"smtp_port": free_port()})  # nothing listens there
    app = build_app(down)
    requested, confirmed = _events()
    async with in_process(app) as client:
        client.pool = app.state.runtime.pool
        await _publish(notify_settings, requested, confirmed)
        await eventually(lambda: _has_error(client), what="a failed attempt to be recorded")
        statuses = await _statuses(client)
        assert statuses == [("pickup_confirmed", "created")]  # back in the queue, with its error, not lost


def test_every_message_renders_in_every_language_falling_back_to_english():
    for kind in ("pickup_confirmed", "pickup_completed"):
        for language in ("en", "es", "vi"):
            rendered = render_email(kind, language, {
                "name": "Lan", "reference": "JP-2026-000001", "manage_url": "http://x/y",
                "pickup_date": date(2026, 12, 8), "window": {"from": "08:00", "to": "12:00"}})
            assert "JP-2026-000001" in rendered.subject
            assert "Lan" in rendered.text and "Lan" in rendered.html
            assert rendered.language == "en"  # translations arrive with the notify issue


async def _is_sent(notify) -> bool:
    return await _statuses(notify) and all(s == "sent" for _, s in await _statuses(notify))


async def _has_error(client) -> bool:
    async with client.pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT error FROM notifications WHERE attempts >= 1 AND error IS NOT NULL"))
