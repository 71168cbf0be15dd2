"""Property: whatever faults the hauler throws (5xx, 429, slow answers past our timeout, broken
answers), and whatever changes follow, each booking reaches the hauler exactly once by the
hauler's own count, its changes arrive after it in order, and every booking ends settled.
(The adapters process killed mid-flight is tests/test_crash_safety.py.)"""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from devstack.testing import eventually, in_process
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.topics import EventType
from hauler_adapters.app import build_app
from test_dispatch import booking_requested, publish

FAULTS = st.sampled_from([{"status": 503}, {"status": 500}, {"status": 429, "retry_after": 0},
                          {"delay": 1.5}, {"body": "<html>Service Unavailable</html>"}])
PLANS = st.lists(st.tuples(st.lists(FAULTS, max_size=2), st.sampled_from(["keep", "move", "cancel"])),
                 min_size=2, max_size=6)
EXAMPLES = settings(max_examples=8, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
async def adapters_under_faults(adapter_settings):
    # More attempts than an example can queue faults: every booking gets through in the end.
    settings_ = adapter_settings.model_copy(update={"vendor_max_attempts": 20, "vendor_timeout_seconds": 1.0,
                                                    "vendor_retry_initial_seconds": 0.01,
                                                    "vendor_retry_max_seconds": 0.05})
    app = build_app(settings_)
    async with in_process(app) as client:
        client.settings, client.pool = settings_, app.state.runtime.pool
        yield client


def _change(requested, kind: str, n: int):
    data = {k: requested.data[k] for k in ("booking_id", "reference", "hauler_id")}
    if kind == "cancel":
        return new_event(type=EventType.BOOKING_CANCELLED, source="/haulbridge/booking", subject=requested.subject,
                         data={**data, "pickup_date": requested.data["pickup_date"], "by": "resident"})
    day = (date.today() + timedelta(days=10 + n)).isoformat()
    return new_event(type=EventType.BOOKING_RESCHEDULED, source="/haulbridge/booking", subject=requested.subject,
                     data={**data, "previous_pickup_date": requested.data["pickup_date"], "pickup_date": day,
                           "target_date": day, "by": "resident"})


@EXAMPLES
@given(plan=PLANS)
# Every kind of fault at least once: a slow answer past our timeout (the job made anyway), a broken
# answer, 503, 429, 500 — with a move and a cancellation right behind their creates.
@example(plan=[([{"delay": 1.5}, {"body": "<html>oops</html>"}], "move"),
               ([{"status": 503}, {"status": 429, "retry_after": 0}], "cancel"), ([{"status": 500}], "keep")])
async def test_under_any_faults_each_booking_reaches_the_hauler_once_its_changes_after_it(
        adapters_under_faults, hauler, plan):
    settings_ = adapters_under_faults.settings
    bookings = []
    for n, (_faults, change) in enumerate(plan):
        requested = booking_requested()
        requested.data["reference"] = f"JP-2026-{uuid.uuid4().int % 1_000_000:06d}"
        bookings.append((requested, change, _change(requested, change, n) if change != "keep" else None))
    async with httpx.AsyncClient(base_url=hauler, headers={}) as vendor:
        await vendor.post("/_sim/faults", json=[f for faults, _ in plan for f in faults])
        for requested, _, change in bookings:  # each booking's change right behind it
            await publish(settings_, requested)
            if change is not None:
                await publish(settings_, change)

        async def settled():
            jobs = {j["customer_reference"]: j for j in (await vendor.get("/_sim/jobs")).json()}
            for requested, kind, change in bookings:
                job = jobs.get(requested.subject)
                if job is None or (kind == "cancel" and job["status"] != "cancelled") or (
                        kind == "move" and job["service_date"] != change.data["pickup_date"]):
                    return None
            # the hauler has the job as soon as it is posted; wait for the adapters to record its answer too
            async with adapters_under_faults.pool.acquire() as conn:
                recorded = {str(r["booking_id"]): r["status"] for r in await conn.fetch(
                    "SELECT booking_id, status FROM dispatches WHERE booking_id = ANY($1::uuid[])",
                    [uuid.UUID(r.subject) for r, _, _ in bookings])}
            if any(recorded.get(r.subject) in (None, "sending") or (kind == "cancel" and recorded[r.subject] != "cancelled")
                   for r, kind, _ in bookings):
                return None
            return jobs

        jobs = await eventually(settled, timeout=120, what="every booking and change at the hauler")
        stats = (await vendor.get("/_sim/stats")).json()
    for requested, kind, change in bookings:
        assert stats["jobs_per_customer_reference"][requested.subject] == 1, "one job per booking, by its count"
        expected = {"keep": ["created"], "cancel": ["created", "cancelled"],
                    "move": ["created", f"moved to {change.data['pickup_date'] if change else ''}"]}[kind]
        assert jobs[requested.subject]["history"] == expected, "changes arrive after the create, once, in order"
    async with adapters_under_faults.pool.acquire() as conn:
        statuses = {str(r["booking_id"]): r["status"] for r in await conn.fetch(
            "SELECT booking_id, status FROM dispatches WHERE booking_id = ANY($1::uuid[])",
            [uuid.UUID(r.subject) for r, _, _ in bookings])}
    assert {statuses[r.subject] for r, kind, _ in bookings if kind == "cancel"} <= {"cancelled"}
    assert {statuses[r.subject] for r, kind, _ in bookings if kind != "cancel"} <= {"accepted", "confirmed",
                                                                                    "completed"}
