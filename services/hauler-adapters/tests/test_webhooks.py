"""Hauler webhooks: signed and timestamped (Standard Webhooks), applied once, refused when forged or stale."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from devstack.stack import DEMO_JSON_HAULER
from haulbridge_runtime.topics import EventType

from test_dispatch import booking_requested, hauler_events, publish


def signed(payload: dict, *, secret: str = DEMO_JSON_HAULER["webhook_secret"], at: datetime | None = None,
           webhook_id: str | None = None) -> tuple[bytes, dict]:
    body = json.dumps(payload)
    at = at or datetime.now(UTC)
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    return body.encode(), {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())),
                           "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
                           "content-type": "application/json"}


async def dispatched(adapters, adapter_settings) -> tuple[str, str]:
    requested = booking_requested()
    await publish(adapter_settings, requested)
    [accepted] = await hauler_events(adapter_settings, expect=1)
    return requested.subject, accepted["data"]["hauler_reference"]


async def test_the_same_webhook_five_times_is_applied_once(adapters, adapter_settings):
    booking_id, job_id = await dispatched(adapters, adapter_settings)
    body, headers = signed({"type": "job.confirmed", "job_id": job_id, "customer_reference": booking_id,
                            "service_date": "2026-12-08", "window": {"from": "08:00", "to": "12:00"}})
    for _ in range(5):
        assert (await adapters.post("/webhooks/valley-haul", content=body, headers=headers)).status_code == 204
    assert await outbox_types(adapters) == [EventType.DISPATCH_ACCEPTED, EventType.PICKUP_CONFIRMED]
    events = await hauler_events(adapter_settings, expect=2)
    assert [e["type"] for e in events] == [EventType.DISPATCH_ACCEPTED, EventType.PICKUP_CONFIRMED]
    confirmed = events[1]["data"]
    assert confirmed["window"] == {"from": "08:00", "to": "12:00"}
    assert confirmed["pickup_date"] == "2026-12-08"


async def test_completed_before_confirmed_leaves_one_completed_pickup_and_the_late_report_is_stale(
        adapters, adapter_settings):
    booking_id, job_id = await dispatched(adapters, adapter_settings)
    report = {"job_id": job_id, "customer_reference": booking_id, "service_date": "2026-12-08"}
    for kind in ("job.completed", "job.confirmed", "job.completed"):  # out of order, then again
        body, headers = signed({"type": kind, **report})
        assert (await adapters.post("/webhooks/valley-haul", content=body, headers=headers)).status_code == 204
    assert await outbox_types(adapters) == [EventType.DISPATCH_ACCEPTED, EventType.PICKUP_COMPLETED]
    async with adapters.pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM dispatches WHERE booking_id = $1",
                                   uuid.UUID(booking_id)) == "completed"
        outcomes = [r["outcome"] for r in await conn.fetch(
            "SELECT outcome FROM webhook_log WHERE hauler_id = 'valley-haul' ORDER BY id")]
    assert outcomes == ["applied", "stale", "stale"]


async def test_a_forged_signature_is_refused_and_logged(adapters, adapter_settings):
    booking_id, job_id = await dispatched(adapters, adapter_settings)
    body, headers = signed({"type": "job.completed", "job_id": job_id, "customer_reference": booking_id},
                           secret="whsec_" + "c29tZW9uZS1lbHNlcy1zZWNyZXQ=")
    r = await adapters.post("/webhooks/valley-haul", content=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["type"] == "/problems/unauthorized"
    # Nothing reaches the city; the attempt is kept for operations to see.
    assert await outbox_types(adapters) == [EventType.DISPATCH_ACCEPTED]
    async with adapters.pool.acquire() as conn:
        logged = await conn.fetch("SELECT verified, outcome FROM webhook_log")
    assert [tuple(r) for r in logged] == [(False, "rejected_signature")]


async def test_a_replayed_webhook_outside_the_five_minute_window_is_refused(adapters, adapter_settings):
    booking_id, job_id = await dispatched(adapters, adapter_settings)
    body, headers = signed({"type": "job.completed", "job_id": job_id, "customer_reference": booking_id},
                           at=datetime.now(UTC) - timedelta(minutes=6))
    r = await adapters.post("/webhooks/valley-haul", content=body, headers=headers)
    assert r.status_code == 401
    assert "too old" in r.json()["detail"]
    assert await outbox_types(adapters) == [EventType.DISPATCH_ACCEPTED]


async def test_a_report_for_a_job_the_city_never_dispatched_is_refused_so_the_vendor_retries(adapters):
    body, headers = signed({"type": "job.completed", "job_id": "VH-999999", "customer_reference": "nobody"})
    r = await adapters.post("/webhooks/valley-haul", content=body, headers=headers)
    assert r.status_code == 404
    assert r.json()["type"] == "/problems/unknown-job"
    # Refused, not swallowed: nothing is recorded as applied, so the vendor's retry is processed later.
    async with adapters.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_log WHERE verified") == 0
    assert await outbox_types(adapters) == []


async def outbox_types(adapters) -> list[str]:
    async with adapters.pool.acquire() as conn:
        return [r["event_type"] for r in await conn.fetch("SELECT event_type FROM outbox ORDER BY id")]
