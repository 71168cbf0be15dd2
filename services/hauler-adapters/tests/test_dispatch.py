"""booking.requested → the hauler's JSON API → dispatch.accepted / .rejected / .failed on hauler.v1."""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import httpx

from devstack.contracts import validate_event
from devstack.testing import eventually, read_topic
from haulbridge_runtime import topics
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.kafka import new_producer
from haulbridge_runtime.topics import EventType


def booking_requested(hauler_id: str = "valley-haul"):
    booking_id = str(uuid.uuid4())
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/booking", subject=booking_id, data={
        "booking_id": booking_id, "reference": "JP-2026-000042", "hauler_id": hauler_id, "zone_id": "downtown",
        "pickup_date": (date.today() + timedelta(days=5)).isoformat(),
        "target_date": (date.today() + timedelta(days=5)).isoformat(),
        "address": {"text": "200 E Santa Clara St, San Jose, CA 95113", "latitude": 37.3377, "longitude": -121.8856},
        "items": [{"item": "sofa", "label": "Sofa or couch", "quantity": 1}],
        "contact": {"name": "Alex Resident", "email": "alex@example.org", "phone": None, "language": "en",
                    "channels": ["email"]},
        "notes": "Side gate", "channel": "web",
    })


async def publish(settings, event):
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    try:
        await producer.send_and_wait(topics.qualified(event.topic, settings.topic_prefix), event.to_bytes(),
                                     key=event.subject.encode())
    finally:
        await producer.stop()


async def hauler_events(settings, expect: int, timeout: float = 60) -> list[dict]:
    records = await read_topic(settings.kafka_bootstrap_servers,
                               topics.qualified(topics.HAULER, settings.topic_prefix), expect=expect, timeout=timeout)
    events = [json.loads(r.value) for r in records]
    for e in events:
        validate_event(e)
    return events


async def test_a_booking_is_sent_to_its_hauler_once_with_an_idempotency_key(adapters, adapter_settings, hauler):
    requested = booking_requested()
    await publish(adapter_settings, requested)
    await publish(adapter_settings, requested)  # redelivered: must not reach the hauler twice
    [accepted] = await hauler_events(adapter_settings, expect=1)
    assert accepted["type"] == EventType.DISPATCH_ACCEPTED
    assert accepted["data"]["hauler_reference"].startswith("VH-")
    assert accepted["correlationid"] == requested.correlationid
    assert accepted["traceparent"].split("-")[1] == requested.traceparent.split("-")[1]  # same trace
    async with httpx.AsyncClient(base_url=hauler) as client:
        stats = (await client.get("/_sim/stats")).json()
    assert stats["create_calls_per_customer_reference"] == {requested.subject: 1}
    assert stats["tokens_issued"] == 1  # OAuth2 client credentials: one token, cached


async def test_temporary_vendor_errors_are_retried_honouring_retry_after(adapters, adapter_settings, hauler):
    async with httpx.AsyncClient(base_url=hauler) as client:
        await client.post("/_sim/faults", json=[{"status": 503}, {"status": 429, "retry_after": 0}])
    requested = booking_requested()
    await publish(adapter_settings, requested)
    [accepted] = await hauler_events(adapter_settings, expect=1)
    assert accepted["type"] == EventType.DISPATCH_ACCEPTED
    async with httpx.AsyncClient(base_url=hauler) as client:
        stats = (await client.get("/_sim/stats")).json()
    assert stats["create_calls_per_customer_reference"] == {requested.subject: 3}
    assert stats["jobs_per_customer_reference"] == {requested.subject: 1}


async def test_a_vendor_refusal_becomes_dispatch_rejected_with_the_vendors_reason(adapters, adapter_settings, hauler):
    async with httpx.AsyncClient(base_url=hauler) as client:
        await client.post("/_sim/faults", json=[{"status": 422, "reason": "address outside our service area"}])
    await publish(adapter_settings, booking_requested())
    [rejected] = await hauler_events(adapter_settings, expect=1)
    assert rejected["type"] == EventType.DISPATCH_REJECTED
    assert rejected["data"]["reason"] == "address outside our service area"


async def test_after_the_last_retry_the_dispatch_has_failed_and_says_why(adapters, adapter_settings, hauler):
    async with httpx.AsyncClient(base_url=hauler) as client:
        await client.post("/_sim/faults", json=[{"status": 500}] * 3)
    await publish(adapter_settings, booking_requested())
    [failed] = await hauler_events(adapter_settings, expect=1)
    assert failed["type"] == EventType.DISPATCH_FAILED
    assert failed["data"]["reason"] == "HTTP 500"


async def test_a_hauler_without_an_integration_fails_the_dispatch_rather_than_dropping_it(
    adapters, adapter_settings
):
    await publish(adapter_settings, booking_requested(hauler_id="westside-recovery"))
    [failed] = await hauler_events(adapter_settings, expect=1)
    assert failed["type"] == EventType.DISPATCH_FAILED
    assert "no integration configured for hauler 'westside-recovery'" in failed["data"]["reason"]


async def test_a_failing_haulers_circuit_opens_so_its_bookings_fail_fast_and_other_haulers_carry_on(
        adapter_settings, hauler):
    from devstack.testing import in_process
    from hauler_adapters.app import build_app

    settings = adapter_settings.model_copy(update={"circuit_threshold": 2, "circuit_open_seconds": 600})
    app = build_app(settings)
    async with in_process(app), httpx.AsyncClient(base_url=hauler) as vendor:
        await vendor.post("/_sim/faults", json=[{"status": 503}] * 6)  # Valley Haul is down
        for n in (1, 2):  # two dispatches fail after their retries: the circuit opens
            await publish(settings, booking_requested())
            events = await hauler_events(settings, expect=n)
            assert events[-1]["type"] == EventType.DISPATCH_FAILED and events[-1]["data"]["reason"] == "HTTP 503"
        calls_before = sum((await vendor.get("/_sim/stats")).json()["create_calls_per_customer_reference"].values())

        fails_fast, elsewhere = booking_requested(), booking_requested(hauler_id="northside-cleanout")
        await publish(settings, fails_fast)  # not even tried: failed at once, saying why
        await publish(settings, elsewhere)  # another hauler: unaffected
        events = {e["subject"]: e for e in await hauler_events(settings, expect=4)}
        assert events[fails_fast.subject]["type"] == EventType.DISPATCH_FAILED
        assert "circuit open for hauler 'valley-haul'" in events[fails_fast.subject]["data"]["reason"]
        assert events[elsewhere.subject]["type"] == EventType.DISPATCH_ACCEPTED
        assert sum((await vendor.get("/_sim/stats")).json()["create_calls_per_customer_reference"].values()) \
            == calls_before


async def test_a_cancellation_or_new_date_reaches_the_hauler_after_the_create_never_before_it(
        adapters, adapter_settings, hauler):
    moved, cancelled = booking_requested(), booking_requested()
    new_day = (date.today() + timedelta(days=12)).isoformat()
    move = new_event(type=EventType.BOOKING_RESCHEDULED, source="/haulbridge/booking", subject=moved.subject,
                     data={**{k: moved.data[k] for k in ("booking_id", "reference", "hauler_id")},
                           "previous_pickup_date": moved.data["pickup_date"], "pickup_date": new_day,
                           "target_date": new_day, "by": "resident"})
    cancel = new_event(type=EventType.BOOKING_CANCELLED, source="/haulbridge/booking", subject=cancelled.subject,
                       data={**{k: cancelled.data[k] for k in ("booking_id", "reference", "hauler_id", "pickup_date")},
                             "by": "resident", "reason": "gave the sofa to a neighbour"})
    for event in (moved, move, cancelled, cancel, cancel):  # published back to back, the cancel twice
        await publish(adapter_settings, event)
    await hauler_events(adapter_settings, expect=2)

    async def histories():
        async with httpx.AsyncClient(base_url=hauler, headers={}) as c:
            jobs = {j["customer_reference"]: j for j in (await c.get("/_sim/jobs")).json()}
        done = jobs.get(cancelled.subject, {}).get("status") == "cancelled" and \
            jobs.get(moved.subject, {}).get("service_date") == new_day
        return jobs if done else None

    jobs = await eventually(histories, what="the hauler to have both changes")
    assert jobs[moved.subject]["history"] == ["created", f"moved to {new_day}"]
    assert jobs[cancelled.subject]["history"] == ["created", "cancelled"]  # once, after the create
