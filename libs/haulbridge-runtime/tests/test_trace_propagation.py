"""Tracing: events join the span being recorded, the consumer loop continues the event's trace,
HTTP server spans honour an incoming traceparent, and all of it costs nothing while off."""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from devstack.testing import eventually
from haulbridge_runtime import topics, tracing
from haulbridge_runtime.consumer import EventConsumer
from haulbridge_runtime.envelope import new_event, new_traceparent, trace_id_of
from haulbridge_runtime.kafka import ensure_topics, new_producer, platform_topics
from haulbridge_runtime.service import ServiceRuntime, create_app
from haulbridge_runtime.settings import ServiceSettings
from haulbridge_runtime.topics import EventType

SERVICE = "tracing-test"


@pytest.fixture
def spans():
    """Tracing on for this test, its spans kept in memory."""
    exporter = InMemorySpanExporter()
    assert tracing.setup(SERVICE, exporter=exporter)
    yield exporter
    tracing.shutdown()


def _event(**kwargs):
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/test", subject=str(uuid.uuid4()),
                     data={}, **kwargs)


def _span_id(traceparent: str) -> str:
    return traceparent.split("-")[2]


def test_tracing_is_on_only_when_an_otlp_endpoint_is_set():
    assert not tracing.configured({})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert not tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"})
    assert not tracing.enabled()


def test_an_event_made_in_a_span_joins_it(spans):
    with tracing.span("request", traceparent=None) as request:
        context = request.get_span_context()
        event = _event()
    assert event.traceparent == f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"

    # Caused by an event of the same trace: the span being recorded is the parent, not a made-up one.
    with tracing.span("handle", traceparent=event.traceparent) as handling:
        follow_up = _event(caused_by=event)
        explicit_same_trace = _event(traceparent=new_traceparent(trace_id_of(event.traceparent)))
        other_trace = new_traceparent()
        explicit_other_trace = _event(traceparent=other_trace)
    assert follow_up.traceparent == tracing.format_traceparent(handling.get_span_context())
    assert trace_id_of(follow_up.traceparent) == trace_id_of(event.traceparent)
    assert explicit_same_trace.traceparent == follow_up.traceparent
    assert explicit_other_trace.traceparent == other_trace  # another trace, given on purpose, is kept
    assert follow_up.correlationid == event.correlationid

    exported = {s.name: s for s in spans.get_finished_spans()}
    assert exported["handle"].parent.span_id == context.span_id
    assert exported["handle"].resource.attributes["service.name"] == SERVICE


def test_work_for_a_booking_inside_another_trace_joins_the_bookings_trace_and_links_the_other(spans):
    booking = _event()  # e.g. a hauler's webhook request (the vendor's trace) reporting on this booking
    with tracing.span("webhook", traceparent=None) as webhook:
        with tracing.span("report", traceparent=booking.traceparent):
            reported = _event(traceparent=new_traceparent(trace_id_of(booking.traceparent)))
    report = next(s for s in spans.get_finished_spans() if s.name == "report")
    assert f"{report.context.trace_id:032x}" == trace_id_of(booking.traceparent)
    assert [link.context.span_id for link in report.links] == [webhook.get_span_context().span_id]
    assert reported.traceparent == tracing.format_traceparent(report.context)


def test_without_tracing_events_continue_their_trace_as_before():
    assert not tracing.enabled()
    first = _event()
    with tracing.span("nothing", traceparent=first.traceparent) as nothing:
        assert nothing is None
        follow_up = _event(caused_by=first)
    assert trace_id_of(follow_up.traceparent) == trace_id_of(first.traceparent)
    assert _span_id(follow_up.traceparent) != _span_id(first.traceparent)
    assert trace_id_of(_event().traceparent) != trace_id_of(first.traceparent)
    assert tracing.current_traceparent() is None


def test_published_records_get_producer_spans_in_their_events_trace(spans):
    event = _event()
    with tracing.publish_spans() as batch:
        batch.add(topic="booking.v1", key=event.subject, event_id=event.id, event_type=event.type,
                  traceparent=event.traceparent)
    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.PRODUCER and span.name == "booking.v1 publish"
    assert f"{span.context.trace_id:032x}" == trace_id_of(event.traceparent)
    assert f"{span.parent.span_id:016x}" == _span_id(event.traceparent)
    assert span.attributes["messaging.kafka.message.key"] == event.subject


async def test_the_consumer_handles_an_event_in_a_consumer_span_of_its_trace(spans, infra, topic_prefix):
    cause = _event()
    seen = {}

    async def handle(event):
        seen["inside"] = tracing.current_traceparent()
        seen["follow_up"] = _event(caused_by=event)

    await ensure_topics(infra.bootstrap, platform_topics(topic_prefix), 3)
    producer = new_producer(infra.bootstrap, client_id="test")
    await producer.start()
    try:
        await producer.send_and_wait(topics.qualified(topics.BOOKING, topic_prefix), cause.to_bytes(),
                                     key=cause.subject.encode(), headers=cause.kafka_headers())
    finally:
        await producer.stop()
    consumer = EventConsumer(service=SERVICE, group_id=f"tracing-{uuid.uuid4().hex[:6]}", topics_=[topics.BOOKING],
                             handlers={EventType.BOOKING_REQUESTED: handle}, bootstrap=infra.bootstrap,
                             topic_prefix=topic_prefix)
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER],
                         what="the consumer span")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    (span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    topic = topics.qualified(topics.BOOKING, topic_prefix)
    assert span.name == f"{topic} process"
    assert f"{span.context.trace_id:032x}" == trace_id_of(cause.traceparent)
    assert f"{span.parent.span_id:016x}" == _span_id(cause.traceparent)
    assert span.attributes["messaging.system"] == "kafka"
    assert span.attributes["messaging.destination.name"] == topic
    assert span.attributes["messaging.kafka.message.key"] == cause.subject
    assert span.attributes["messaging.consumer.group.name"] == consumer.group_id
    assert span.attributes["haulbridge.outcome"] == "processed"
    assert {"messaging.destination.partition.id", "messaging.kafka.offset"} <= set(span.attributes)
    # What the handler did is in that span: the event it made continues the trace from it.
    assert seen["inside"] == seen["follow_up"].traceparent == tracing.format_traceparent(span.context)


async def test_http_requests_get_server_spans_that_honour_an_incoming_traceparent(spans):
    app = create_app(ServiceRuntime(ServiceSettings(service_name=SERVICE), migrations=None), title="t")

    @app.post("/things")
    async def make_thing():
        return {"traceparent": _event().traceparent}

    caller = new_traceparent()
    transport = httpx.ASGITransport(app=app)  # no lifespan: the runtime is not needed for these routes
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        made = (await client.post("/things", headers={"traceparent": caller})).json()
        assert (await client.get("/healthz")).status_code == 200

    (server,) = spans.get_finished_spans()  # /healthz is left out
    assert server.kind is SpanKind.SERVER and server.name == "POST /things"
    assert f"{server.context.trace_id:032x}" == trace_id_of(caller)
    assert f"{server.parent.span_id:016x}" == _span_id(caller)
    assert made["traceparent"] == tracing.format_traceparent(server.context)  # the event joins the request
