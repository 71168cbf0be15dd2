"""Reports from the hauler (through the adapters, on hauler.v1) move the booking and fill its timeline."""
from __future__ import annotations

import uuid

from datetime import date

from devstack.contracts import validate_event
from devstack.testing import booking_body, eventually, manage_path, pickup_day
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.kafka import new_producer
from haulbridge_runtime import topics
from haulbridge_runtime.topics import EventType


async def _report(settings, booking: dict, event_type: str, **data):
    event = new_event(type=event_type, source="/haulbridge/hauler-adapters", subject=booking["id"],
                      data={"booking_id": booking["id"], "hauler_id": "valley-haul",
                            "reference": booking["reference"], **data})
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    try:
        await producer.send_and_wait(topics.qualified(topics.HAULER, settings.topic_prefix), event.to_bytes(),
                                     key=booking["id"].encode())
    finally:
        await producer.stop()
    return event


async def _steps(api, booking):
    view = (await api.get(manage_path(booking))).json()
    return [(s["step"], s["outcome"]) for s in view["timeline"]], view["status"]


async def test_duplicate_and_out_of_order_reports_leave_one_correct_state(booking_api, booking_settings):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    completed = await _report(booking_settings, booking, EventType.PICKUP_COMPLETED, hauler_reference="VH-1")
    await eventually(lambda: _has_status(booking_api, booking, "completed"), what="completed")

    # The same webhook relayed again, and the confirmation arriving late.
    await _report(booking_settings, booking, EventType.PICKUP_CONFIRMED, hauler_reference="VH-1",
                  pickup_date=booking["pickup_date"])
    producer = new_producer(booking_settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    await producer.send_and_wait(topics.qualified(topics.HAULER, booking_settings.topic_prefix),
                                 completed.to_bytes(), key=booking["id"].encode())
    await producer.stop()

    await eventually(lambda: _step_count(booking_api, booking, 3), what="the late report to be noted")
    steps, status = await _steps(booking_api, booking)
    assert status == "completed"
    assert steps == [("received", "applied"), ("completed", "applied"), ("confirmed", "stale")]


async def test_a_report_for_a_booking_the_city_does_not_know_is_parked_in_the_dead_letter_topic(
    booking_api, booking_settings, infra
):
    from devstack.testing import read_topic

    ghost = {"id": str(uuid.uuid4()), "reference": "JP-2026-999999"}
    await _report(booking_settings, ghost, EventType.DISPATCH_ACCEPTED, hauler_reference="VH-9")
    parked = await read_topic(infra.bootstrap,
                              topics.qualified(topics.dlq(topics.HAULER), booking_settings.topic_prefix), expect=1)
    assert len(parked) == 1
    assert b"hauler report for unknown booking" in dict(parked[0].headers)["dlq-error"]


async def _day(db, day: date) -> tuple[int, int]:
    row = await db.fetchrow("SELECT booked, pickups FROM capacity_days WHERE zone_id = 'downtown' AND day = $1", day)
    return (row["booked"], row["pickups"]) if row else (0, None)


async def _last_step(api, booking):
    return (await api.get(manage_path(booking))).json()["timeline"][-1]


async def _rescheduled_events(db) -> list[dict]:
    rows = await db.fetch("SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id", EventType.BOOKING_RESCHEDULED)
    return [r["payload"] for r in rows]


async def test_a_hauler_moving_the_pickup_moves_the_capacity_and_the_resident_is_told(
        booking_api, booking_settings, booking_db):
    first, moved_to = pickup_day(8), pickup_day(15)
    booking = (await booking_api.post("/v1/bookings", json=booking_body(pickup_date=first.isoformat()))).json()
    before = await _day(booking_db, moved_to)

    await _report(booking_settings, booking, EventType.PICKUP_RESCHEDULED, pickup_date=moved_to.isoformat(),
                  previous_pickup_date=first.isoformat(), reason="truck broke down")
    await eventually(lambda: _has_date(booking_api, booking, moved_to), what="the hauler's new date")

    view = (await booking_api.get(manage_path(booking))).json()
    assert view["target_date"] == moved_to.isoformat()
    step = view["timeline"][-1]
    assert (step["step"], step["outcome"], step["source"]) == ("rescheduled_by_hauler", "applied", "hauler:valley-haul")
    assert step["detail"]["reason"] == "truck broke down"
    assert (await _day(booking_db, first))[0] == 0  # the old day's pickup is given back
    assert (await _day(booking_db, moved_to))[0] == before[0] + 1
    [event] = await _rescheduled_events(booking_db)  # the resident is told through booking.v1
    validate_event(event)
    assert event["data"]["by"] == "hauler" and event["data"]["pickup_date"] == moved_to.isoformat()


async def test_the_same_reschedule_reported_twice_moves_the_pickup_once(booking_api, booking_settings, booking_db):
    moved_to = pickup_day(15)
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    for _ in range(2):  # two distinct reports (e.g. the vendor's webhook fired twice with new ids)
        await _report(booking_settings, booking, EventType.PICKUP_RESCHEDULED, pickup_date=moved_to.isoformat())
    await eventually(lambda: _step_count(booking_api, booking, 3), what="both reports to be handled")
    steps, _status = await _steps(booking_api, booking)
    assert steps[1:] == [("rescheduled_by_hauler", "applied"), ("rescheduled_by_hauler", "stale")]
    assert (await _day(booking_db, moved_to))[0] == 1
    assert len(await _rescheduled_events(booking_db)) == 1


async def test_a_hauler_may_move_a_pickup_onto_a_day_the_city_shows_as_full(booking_api, booking_settings, booking_db):
    from booking.calendar import repository as calendar_repository

    full = pickup_day(15)
    await calendar_repository.set_capacity(booking_db, "downtown", full, 0)
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    await _report(booking_settings, booking, EventType.PICKUP_RESCHEDULED, pickup_date=full.isoformat())
    await eventually(lambda: _has_date(booking_api, booking, full), what="the hauler's new date")
    assert (await _last_step(booking_api, booking))["detail"]["over_city_capacity"] is True
    assert await _day(booking_db, full) == (1, 1)  # the count stays exact; the CHECK (booked <= pickups) holds


async def test_a_reschedule_reported_after_the_pickup_was_done_is_refused_and_noted(
        booking_api, booking_settings, booking_db):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    await _report(booking_settings, booking, EventType.PICKUP_COMPLETED, hauler_reference="VH-7")
    await eventually(lambda: _has_status(booking_api, booking, "completed"), what="completed")
    await _report(booking_settings, booking, EventType.PICKUP_RESCHEDULED, pickup_date=pickup_day(20).isoformat())
    await eventually(lambda: _step_count(booking_api, booking, 3), what="the late reschedule to be noted")
    view = (await booking_api.get(manage_path(booking))).json()
    assert (view["timeline"][-1]["step"], view["timeline"][-1]["outcome"]) == ("rescheduled_by_hauler", "refused")
    assert view["pickup_date"] == booking["pickup_date"] and view["status"] == "completed"
    assert await _rescheduled_events(booking_db) == []


async def test_a_hauler_reporting_a_missed_pickup_marks_the_booking_missed_with_its_reason(
        booking_api, booking_settings):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    await _report(booking_settings, booking, EventType.PICKUP_CONFIRMED, pickup_date=booking["pickup_date"])
    await _report(booking_settings, booking, EventType.PICKUP_MISSED, reason="items not at the curb")
    await eventually(lambda: _has_status(booking_api, booking, "missed"), what="missed")
    step = await _last_step(booking_api, booking)
    assert (step["step"], step["detail"]["reason"]) == ("missed_by_hauler", "items not at the curb")


async def _has_date(api, booking, day: date):
    return (await api.get(manage_path(booking))).json()["pickup_date"] == day.isoformat()


async def _has_status(api, booking, status):
    return (await _steps(api, booking))[1] == status


async def _step_count(api, booking, n):
    return len((await _steps(api, booking))[0]) == n
