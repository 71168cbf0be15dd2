"""One booking, one trace: its spans in every service, the vendor call included, share one trace id,
and so do its events on the Kafka topics (the traceparent in each record's value and headers)."""
from __future__ import annotations

import gzip
import json

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from devstack.testing import Urls, booking_body, booking_status, eventually, read_topic
from haulbridge_runtime import topics
from haulbridge_runtime.envelope import trace_id_of
from haulbridge_simulators.otlp_sink import build_app as build_sink


@pytest.mark.e2e
async def test_one_booking_is_one_trace_across_every_service_the_vendor_call_and_kafka(
        platform_factory, infra, topic_prefix):
    platform = platform_factory()
    platform.start_all()
    urls = Urls(platform)
    sink = f"http://127.0.0.1:{platform.ports.otlp_sink}"
    web_key = platform.create_api_key("tracing-web", kind="frontend")
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(f"{urls.booking}/v1/bookings", json=booking_body(),
                                    headers={"X-Api-Key": web_key})
        assert created.status_code == 201, created.text
        booking = created.json()
        assert booking["hauler"] == "Valley Haul Co."  # the JSON hauler simulator
        await eventually(lambda: _is_completed(client, urls, booking), timeout=90, what="the booking to complete")
        await eventually(lambda: _mails(client, urls, expect=3), what="the three emails")

        # Every event of the booking, on every topic, carries one trace id, in its value and its headers.
        records = []
        for topic, expect in ((topics.BOOKING, 1), (topics.HAULER, 3), (topics.NOTIFY, 3)):
            records += await read_topic(infra.bootstrap, topics.qualified(topic, topic_prefix), expect=expect)
        events = [json.loads(r.value) for r in records]
        assert {e["subject"] for e in events} == {booking["id"]}
        trace_id = trace_id_of(events[0]["traceparent"])
        assert trace_id and {trace_id_of(e["traceparent"]) for e in events} == {trace_id}
        assert {trace_id_of(dict(r.headers)["traceparent"].decode()) for r in records} == {trace_id}

        # The sink has that trace's spans from booking, hauler-adapters and notify.
        spans = await eventually(lambda: _trace_with_everything(client, sink, trace_id, platform.ports.json_hauler,
                                                                events), timeout=30,
                                 what="the booking's spans in the trace sink")

    by_id = {s["span_id"]: s for s in spans}
    (request,) = [s for s in spans if s["service.name"] == "booking" and s["kind"] == "server"
                  and s["name"] == "POST /v1/bookings"]
    assert request["parent_span_id"] is None  # the front end sent no traceparent: the booking starts the trace
    requested = next(e for e in events if e["type"].endswith("booking.requested.v1"))
    assert requested["traceparent"].split("-")[2] == request["span_id"]  # the event was made in the request

    (dispatch,) = [s for s in spans if s["service.name"] == "hauler-adapters" and s["kind"] == "consumer"
                   and s["attributes"].get("cloudevents.event_type", "").endswith("booking.requested.v1")]
    assert dispatch["parent_span_id"] == request["span_id"]
    assert dispatch["attributes"]["messaging.system"] == "kafka"
    assert dispatch["attributes"]["messaging.destination.name"] == topics.qualified(topics.BOOKING, topic_prefix)
    assert dispatch["attributes"]["messaging.kafka.message.key"] == booking["id"]

    vendor_call = _vendor_calls(spans, platform.ports.json_hauler)[0]
    assert dispatch["span_id"] in _ancestors(vendor_call, by_id)  # the call to Valley Haul, made while dispatching

    notify = [s for s in spans if s["service.name"] == "notify" and s["kind"] == "consumer"]
    assert any(s["parent_span_id"] == request["span_id"] for s in notify)  # notify heard of the same request
    sends = [s for s in spans if s["service.name"] == "notify" and s["name"] == "notify send email"]
    assert len(sends) >= 3  # received, confirmed, done: each email sent within the booking's trace
    assert any(s["kind"] == "producer" for s in spans)  # the outbox relays' publishes

    # The hauler's reports came by webhook (a request of the vendor's own trace, linked), yet are in this one.
    reports = [s for s in spans if s["name"].startswith("hauler report ")]
    assert {s["name"] for s in reports} == {"hauler report pickup.confirmed.v1", "hauler report pickup.completed.v1"}
    assert all(s["parent_span_id"] == request["span_id"] and s["links"] for s in reports)
    # No event names a parent span that does not exist: each was made inside a span of the trace.
    assert {e["traceparent"].split("-")[2] for e in events} <= set(by_id)


def _vendor_calls(spans: list[dict], port: int) -> list[dict]:
    def url(span):
        return str(span["attributes"].get("url.full", span["attributes"].get("http.url", "")))

    return [s for s in spans if s["service.name"] == "hauler-adapters" and s["kind"] == "client"
            and f":{port}/api/v1/jobs" in url(s)]


def _ancestors(span: dict, by_id: dict[str, dict]) -> list[str]:
    seen = []
    while span["parent_span_id"] in by_id:
        seen.append(span["parent_span_id"])
        span = by_id[span["parent_span_id"]]
    return seen + [span["parent_span_id"]]


async def _trace_with_everything(client, sink, trace_id, hauler_port, events):
    spans = (await client.get(f"{sink}/_sim/spans", params={"trace_id": trace_id})).json()
    services = {(s["service.name"], s["kind"]) for s in spans}
    wanted = {("booking", "server"), ("hauler-adapters", "consumer"), ("notify", "consumer"), ("booking", "consumer")}
    if wanted <= services and _vendor_calls(spans, hauler_port) \
            and sum(s["name"] == "notify send email" for s in spans) >= 3 \
            and {e["traceparent"].split("-")[2] for e in events} <= {s["span_id"] for s in spans}:
        return spans
    return None


async def _is_completed(client, urls, booking) -> bool:
    return await booking_status(client, urls, booking) == "completed"


async def _mails(client, urls, expect):
    mails = (await client.get(f"{urls.mail}/messages")).json()
    return mails if len(mails) >= expect else None


async def test_the_trace_sink_takes_an_otlp_export_and_lists_its_spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "somewhere"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT, attributes={"n": 3, "ok": True}):
            pass
    body = encode_spans(exporter.get_finished_spans()).SerializeToString()
    trace_id = f"{parent.get_span_context().trace_id:032x}"

    transport = httpx.ASGITransport(app=build_sink())
    async with httpx.AsyncClient(transport=transport, base_url="http://sink") as sink:
        protobuf = {"content-type": "application/x-protobuf"}
        assert (await sink.post("/v1/traces", content=body, headers=protobuf)).status_code == 200
        assert (await sink.post("/v1/traces", content=gzip.compress(body),
                                headers={**protobuf, "content-encoding": "gzip"})).status_code == 200
        assert (await sink.post("/v1/traces", content=b"{}", headers={"content-type": "application/json"})
                ).status_code == 415
        spans = (await sink.get("/_sim/spans", params={"trace_id": trace_id, "name": "child"})).json()
        stats = (await sink.get("/_sim/stats")).json()
        traces = (await sink.get("/_sim/traces")).json()

    assert stats == {"exports": 2, "spans_received": 4, "spans": 4, "traces": 1}
    assert traces == [{"trace_id": trace_id, "spans": 4, "services": ["somewhere"], "root": "somewhere: parent"}]
    child = spans[0]
    assert len(spans) == 2  # sent twice
    assert child["kind"] == "client" and child["service.name"] == "somewhere"
    assert child["parent_span_id"] == f"{parent.get_span_context().span_id:016x}"
    assert child["attributes"] == {"n": 3, "ok": True}
