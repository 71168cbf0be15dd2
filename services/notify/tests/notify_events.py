"""The events notify consumes, as the booking service and the adapters publish them."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from haulbridge_runtime import topics
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.kafka import new_producer
from haulbridge_runtime.topics import EventType


def booking_events(email: str | None = "maria@example.org", language: str = "es", channels=("email",),
                   phone: str | None = None, name: str = "María"):
    """booking.requested and pickup.confirmed for a new booking six days from now."""
    booking_id = str(uuid.uuid4())
    pickup = (date.today() + timedelta(days=6)).isoformat()
    requested = new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/booking", subject=booking_id, data={
        "booking_id": booking_id, "reference": "JP-2026-000077", "hauler_id": "valley-haul", "zone_id": "downtown",
        "pickup_date": pickup, "target_date": pickup,
        "address": {"text": "1300 Senter Rd, San Jose, CA 95112", "latitude": 37.3257, "longitude": -121.861},
        "items": [{"item": "washer", "label": "Washing machine", "quantity": 1}],
        "contact": {"name": name, "email": email, "phone": phone, "language": language, "channels": list(channels)},
        "notes": None, "channel": "app", "manage_url": f"http://127.0.0.1:8001/v1/bookings/{booking_id}",
    })
    confirmed = new_event(type=EventType.PICKUP_CONFIRMED, source="/haulbridge/hauler-adapters",
                          subject=booking_id, caused_by=requested, data={
                              "booking_id": booking_id, "hauler_id": "valley-haul", "reference": "JP-2026-000077",
                              "hauler_reference": "VH-000077", "pickup_date": pickup,
                              "window": {"from": "08:00", "to": "12:00"}})
    return requested, confirmed


async def publish(settings, *events):
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topics.qualified(e.topic, settings.topic_prefix), e.to_bytes(),
                                         key=e.subject.encode())
    finally:
        await producer.stop()
