"""Events as the booking service, the adapters and notify publish them, for a booking's whole life."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from haulbridge_runtime import topics
from haulbridge_runtime.envelope import Event, new_event
from haulbridge_runtime.kafka import new_producer
from haulbridge_runtime.topics import EventType as T


class BookingStory:
    """One booking's events, in the order the platform would publish them."""

    def __init__(self, *, reference: str, hauler_id: str = "valley-haul", channel: str = "web",
                 pickup: date, target: date | None = None, phone: str | None = None,
                 email: str | None = "resident@example.org") -> None:
        self.booking_id = str(uuid.uuid4())
        self.reference = reference
        self.hauler_id = hauler_id
        self.pickup = pickup
        self.events: list[Event] = []
        self.requested = self._add(T.BOOKING_REQUESTED, "/haulbridge/booking", {
            "booking_id": self.booking_id, "reference": reference, "hauler_id": hauler_id, "zone_id": "downtown",
            "pickup_date": pickup.isoformat(), "target_date": (target or pickup).isoformat(),
            "address": {"text": "200 E Santa Clara St, San Jose, CA 95113", "latitude": 37.3377,
                        "longitude": -121.8863},
            "items": [{"item": "sofa", "label": "Sofa", "quantity": 1}],
            "contact": {"name": "Alex Resident", "email": email, "phone": phone, "language": "en",
                        "channels": ["email"] + (["sms"] if phone else [])},
            "notes": None, "channel": channel, "manage_url": f"http://127.0.0.1:8001/v1/bookings/{self.booking_id}"})

    def _add(self, type_: str, source: str, data: dict) -> Event:
        event = new_event(type=type_, source=source, subject=self.booking_id, data=data,
                          caused_by=self.events[0] if self.events else None)
        self.events.append(event)
        return event

    def _hauler(self, type_: str, **data) -> Event:
        return self._add(type_, "/haulbridge/hauler-adapters", {"booking_id": self.booking_id,
                                                                "hauler_id": self.hauler_id,
                                                                "reference": self.reference, **data})

    def dispatched(self) -> "BookingStory":
        self._hauler(T.DISPATCH_ACCEPTED, hauler_reference=f"H-{self.reference}")
        return self

    def confirmed(self) -> "BookingStory":
        self._hauler(T.PICKUP_CONFIRMED, hauler_reference=f"H-{self.reference}", pickup_date=self.pickup.isoformat(),
                     window={"from": "08:00", "to": "12:00"})
        return self

    def completed(self, on: date) -> "BookingStory":
        # noon in San José, as the hauler reports it
        at = datetime.combine(on, time(20, 0), tzinfo=UTC)
        self._hauler(T.PICKUP_COMPLETED, hauler_reference=f"H-{self.reference}", completed_at=at.isoformat())
        return self

    def missed(self) -> "BookingStory":
        self._hauler(T.PICKUP_MISSED, hauler_reference=f"H-{self.reference}", reason="No items at the curb",
                     pickup_date=self.pickup.isoformat())
        return self

    def rejected(self) -> "BookingStory":
        self._hauler(T.DISPATCH_REJECTED, reason="Address outside our service area")
        return self

    def cancelled(self) -> "BookingStory":
        self._add(T.BOOKING_CANCELLED, "/haulbridge/booking", {"booking_id": self.booking_id,
                                                               "reference": self.reference,
                                                               "hauler_id": self.hauler_id,
                                                               "pickup_date": self.pickup.isoformat(),
                                                               "by": "resident", "reason": None})
        return self

    def rated(self, rating: int) -> "BookingStory":
        self._add(T.BOOKING_FEEDBACK_RECEIVED, "/haulbridge/booking", {
            "booking_id": self.booking_id, "reference": self.reference, "hauler_id": self.hauler_id,
            "rating": rating, "comment": "Call me on 408-555-0199"})
        return self

    def told(self, channel: str, kind: str = "booking_confirmed") -> "BookingStory":
        self._add(T.NOTIFICATION_SENT, "/haulbridge/notify", {"booking_id": self.booking_id, "kind": kind,
                                                              "channel": channel})
        return self


async def publish(settings, *events: Event, dead_letter_headers: dict[str, str] | None = None) -> None:
    """Publish as the outbox relay does (key = booking id, CloudEvents headers); with
    ``dead_letter_headers``, park them in the dead-letter topic as the consumer loop does."""
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="ops-test")
    await producer.start()
    try:
        for e in events:
            topic = topics.dlq(e.topic) if dead_letter_headers is not None else e.topic
            headers = e.kafka_headers() + [(k, v.encode()) for k, v in (dead_letter_headers or {}).items()]
            await producer.send_and_wait(topics.qualified(topic, settings.topic_prefix), e.to_bytes(),
                                         key=e.subject.encode(), headers=headers)
    finally:
        await producer.stop()
