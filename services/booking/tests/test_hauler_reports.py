"""Reports from the hauler (through the adapters, on hauler.v1) move the booking and fill its timeline."""
from __future__ import annotations

import uuid

from devstack.testing import booking_body, eventually, manage_path
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


async def _has_status(api, booking, status):
    return (await _steps(api, booking))[1] == status


async def _step_count(api, booking, n):
    return len((await _steps(api, booking))[0]) == n
