"""The CloudEvents 1.0 envelope every Haulbridge event travels in.

Events are written to Kafka in CloudEvents *structured* mode (the record value
is the whole JSON envelope) with the booking id as record key, so all events of
one booking land on one partition and stay in order. A few attributes are also
copied to record headers (``ce_type``, ``ce_id``, ``traceparent``) so tools can
route and trace without parsing the value.
"""
from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import topics, tracing


def new_traceparent(trace_id: str | None = None) -> str:
    """A W3C ``traceparent`` for a new span, in the given trace or a new one."""
    trace_id = trace_id or secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def child_traceparent(parent: str | None) -> str:
    """Continue the parent's trace with a new span id (or start a trace)."""
    return new_traceparent(trace_id_of(parent))


class Event(BaseModel):
    """A CloudEvent with Haulbridge's two extensions: correlation id and traceparent."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    dataschema: str
    correlationid: str
    traceparent: str
    data: dict[str, Any]

    @property
    def topic(self) -> str:
        return topics.TOPIC_OF[self.type]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [
            ("ce_specversion", self.specversion.encode()),
            ("ce_id", self.id.encode()),
            ("ce_type", self.type.encode()),
            ("traceparent", self.traceparent.encode()),
            ("correlationid", self.correlationid.encode()),
            ("content-type", b"application/cloudevents+json"),
        ]

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Event":
        return cls.model_validate_json(raw)


def new_event(
    *,
    type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    correlation_id: str | None = None,
    traceparent: str | None = None,
    caused_by: Event | None = None,
) -> Event:
    """Build an event; when ``caused_by`` is given it inherits correlation and trace.

    With tracing on, an event made while a span is recording (the HTTP request that made a
    booking, the consumer span of the event that caused it) gets that span as its
    ``traceparent``, so whatever handles it later joins the same trace: instead of a new trace
    when no trace is given, and instead of a made-up child span when the given or causing
    event's trace is the current span's. Off, traces are continued span-less as before.
    """
    current = tracing.current_traceparent()
    if caused_by is not None:
        correlation_id = correlation_id or caused_by.correlationid
        traceparent = traceparent or child_traceparent(caused_by.traceparent)
    if current and trace_id_of(traceparent) in (None, trace_id_of(current)):  # none (or not one), or this trace
        traceparent = current
    return Event(
        type=type,
        source=source,
        subject=subject,
        data=data,
        dataschema=f"urn:haulbridge:schema:{topics.short_name(type)}",
        correlationid=correlation_id or str(uuid.uuid4()),
        traceparent=traceparent or new_traceparent(),
    )
