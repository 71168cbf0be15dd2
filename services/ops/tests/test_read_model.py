"""Ops follows every booking's flow from the events alone, without residents' contact details."""
from __future__ import annotations

from datetime import date, timedelta

from devstack.testing import eventually
from haulbridge_runtime.envelope import trace_id_of
from ops_events import BookingStory, publish

from ops_console import HTML, sign_in


async def _count(ops, sql: str, *args) -> int:
    async with ops.pool.acquire() as conn:
        return await conn.fetchval(sql, *args)


async def projected(ops, booking_id: str, expect: int) -> None:
    async def done() -> bool:
        return await _count(ops, "SELECT count(*) FROM flow_events WHERE booking_id = $1", booking_id) >= expect
    await eventually(done, what=f"{expect} events of the booking projected")


async def test_a_booking_is_followed_from_request_to_completion(ops, ops_settings):
    pickup = date.today() + timedelta(days=3)
    story = BookingStory(reference="JP-2026-000101", pickup=pickup, phone="+1 408 555 0199",
                         email="alex.private@example.org").dispatched().confirmed().told("email") \
        .completed(pickup).rated(5)
    await publish(ops_settings, *story.events)
    await projected(ops, story.booking_id, len(story.events))
    async with ops.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM bookings WHERE booking_id = $1", story.booking_id)
        stored = await conn.fetchval("SELECT string_agg(data::text || summary, ' ') FROM flow_events")
    assert (row["status"], row["rating"], row["reference"]) == ("completed", 5, "JP-2026-000101")
    assert row["trace_id"] == trace_id_of(story.requested.traceparent)
    # the resident's contact details and free text stay out of the read model
    for private in ("alex.private@example.org", "Alex Resident", "408 555 0199", "408-555-0199", "Call me"):
        assert private not in stored
    assert len(row["phone_hash"]) == 64  # a keyed hash, not the number

    # staff find it by reference (straight to its timeline), by address and by phone number
    await sign_in(ops, "vic")
    by_reference = await ops.get("/bookings", params={"q": "jp-2026-000101"}, headers=HTML)
    assert by_reference.status_code == 303 and by_reference.headers["location"] == f"/bookings/{story.booking_id}"
    by_phone = await ops.get("/bookings", params={"q": "(408) 555-0199", "by": "phone"}, headers=HTML)
    assert "JP-2026-000101" in by_phone.text
    by_address = await ops.get("/bookings", params={"q": "santa clara", "by": "address"}, headers=HTML)
    assert "JP-2026-000101" in by_address.text
    timeline = await ops.get(f"/bookings/{story.booking_id}", headers=HTML)
    assert timeline.status_code == 200
    for step in ("Booked through web", "valley-haul took the job", "confirmed the pickup", "Resident told by email",
                 "completed the pickup", "rated the pickup 5/5"):
        assert step in timeline.text
    assert trace_id_of(story.requested.traceparent) in timeline.text


async def test_each_event_counts_once_and_a_late_report_does_not_undo_completion(ops, ops_settings):
    pickup = date.today() + timedelta(days=2)
    story = BookingStory(reference="JP-2026-000102", pickup=pickup).dispatched().completed(pickup)
    late = BookingStory(reference="x", pickup=pickup)  # borrow its builder for a late confirmation
    late.booking_id, late.events = story.booking_id, [story.requested]
    late.confirmed()
    # the same events delivered twice (a producer retry, a replay), then a confirmation arriving late
    await publish(ops_settings, *story.events, *story.events, late.events[-1])
    await projected(ops, story.booking_id, len(story.events) + 1)
    async with ops.pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", story.booking_id) == "completed"


async def test_a_parked_event_is_seen_in_the_flow_and_counted_as_waiting(ops, ops_settings):
    story = BookingStory(reference="JP-2026-000103", pickup=date.today() + timedelta(days=4))
    await publish(ops_settings, story.requested)
    await publish(ops_settings, story.requested, dead_letter_headers={
        "dlq-error": "RuntimeError('hauler table locked')", "dlq-attempts": "5", "dlq-consumer": "hauler-adapters",
        "dlq-original-topic": "booking.v1", "dlq-original-partition": "0", "dlq-original-offset": "7",
        "dlq-failed-at": "2026-11-29T09:00:00+00:00"})
    await eventually(lambda: _count(ops, "SELECT count(*) FROM dead_letters WHERE booking_id = $1",
                                    story.booking_id), what="the dead letter seen")
    # the record stays in the dead-letter topic, where the adapters (its keeper) list and replay it
    await sign_in(ops, "vic")
    overview = (await ops.get("/overview.json")).json()
    assert overview["dead_letters"]["booking.v1"] == 1
    timeline = await ops.get(f"/bookings/{story.booking_id}", headers=HTML)
    assert "hauler-adapters could not process" in timeline.text and "hauler table locked" in timeline.text


async def test_reconciliation_differences_are_shown_per_hauler_and_day_with_the_action_taken(ops, ops_settings):
    from haulbridge_runtime.envelope import new_event
    from haulbridge_runtime.topics import EventType
    from ops_events import publish as publish_events

    story = BookingStory(reference="JP-2026-000104", pickup=date.today())
    found = new_event(type=EventType.DISCREPANCY_FOUND, source="/haulbridge/hauler-adapters",
                      subject=story.booking_id, caused_by=story.requested, data={
                          "hauler_id": "valley-haul", "day": date.today().isoformat(), "kind": "missing_at_hauler",
                          "action": "redispatched", "booking_id": story.booking_id, "reference": story.reference,
                          "city_status": "dispatched", "hauler_status": None,
                          "detail": "The hauler has no job for this booking; sent again."})
    await publish_events(ops_settings, story.requested, found)
    await projected(ops, story.booking_id, 2)
    await sign_in(ops, "vic")
    page = await ops.get("/reconciliation", params={"hauler": "valley-haul"}, headers=HTML)
    assert f"valley-haul · {date.today().isoformat()} · 1 difference" in page.text
    assert "missing at hauler" in page.text and "redispatched" in page.text and "JP-2026-000104" in page.text
    other = await ops.get("/reconciliation", params={"hauler": "westside-recovery"}, headers=HTML)
    assert "No differences found for this filter" in other.text


async def test_the_kpi_goal_and_parked_counts_are_metrics_for_alerting(ops):
    from devstack.testing import eventually as wait_for

    async def exported() -> bool:
        text = (await ops.get("/metrics")).text
        return 'haulbridge_kpi_goal{kpi="on_time_share"} 0.8' in text and \
            'haulbridge_ops_dead_letters_parked{topic="booking.v1"} 0.0' in text
    await wait_for(exported, what="the KPI goal and parked dead letters exported")


async def test_only_a_staff_correction_may_move_a_finished_booking(ops, ops_settings):
    from haulbridge_runtime.topics import EventType

    pickup = date.today() - timedelta(days=1)
    story = BookingStory(reference="JP-2026-000105", pickup=pickup).dispatched().cancelled()
    story.confirmed()  # the hauler's confirmation, arriving after the resident cancelled: changes nothing
    await publish(ops_settings, *story.events)
    await projected(ops, story.booking_id, len(story.events))
    async with ops.pool.acquire() as conn:
        assert await conn.fetchval("SELECT status FROM bookings WHERE booking_id = $1", story.booking_id) == "cancelled"
    story._add(EventType.BOOKING_STATUS_CORRECTED, "/haulbridge/booking", {
        "booking_id": story.booking_id, "reference": story.reference, "hauler_id": story.hauler_id,
        "from_status": "cancelled", "to_status": "completed", "reason": "The crew collected it after all",
        "by": "staff:dana"})
    await publish(ops_settings, story.events[-1])
    await projected(ops, story.booking_id, len(story.events))
    async with ops.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, completed_at FROM bookings WHERE booking_id = $1", story.booking_id)
    assert row["status"] == "completed" and row["completed_at"] is not None
