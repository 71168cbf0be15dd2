"""OpenTelemetry tracing: one trace per booking, across HTTP, Kafka and vendor calls.

Off unless the standard OpenTelemetry environment says where to send spans:
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); the
exporter is OTLP over HTTP (protobuf), batched (``OTEL_BSP_*``), and every other
standard variable (``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_TRACES_SAMPLER``,
``OTEL_RESOURCE_ATTRIBUTES``, ...) applies. ``OTEL_SDK_DISABLED=true`` turns it off
again. Off, it costs nothing: no provider, no instrumentation, no spans.

When it is on, :func:`setup` (called by ``create_app``) installs a tracer provider
whose ``service.name`` is the service's, instruments the FastAPI app (server spans;
an incoming ``traceparent`` is honoured; ``/healthz``, ``/readyz`` and ``/metrics``
are left out) and httpx (client spans, ``traceparent`` injected into the request).
The Kafka side is here too: the consumer loop wraps each handled event in a
CONSUMER span whose parent is the event's ``traceparent`` (:func:`consumer_span`),
and the outbox relay makes a PRODUCER span per published record
(:func:`publish_spans`). Events made while a span is active join it
(:func:`current_traceparent`, used by ``envelope.new_event``), so a booking made
by an HTTP request, the dispatch it causes and the vendor call share one trace.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .logs import get_logger

log = get_logger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Probes and scrapes: no spans (regular expressions matched against the request URL).
EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"

_propagator = TraceContextTextMapPropagator()
_provider = None  # the SDK TracerProvider once set up; None: tracing is off
_service: str | None = None
_global_set = False  # OpenTelemetry lets a process set its global provider once


def configured(environ: dict[str, str] | None = None) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and the SDK not disabled."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def enabled() -> bool:
    return _provider is not None


def setup(service_name: str, *, exporter=None) -> bool:
    """Install the process's tracer provider and the httpx instrumentation, once; ``True`` if tracing is on.

    Several services in one process (the in-process tests) share the first one's provider.
    ``exporter`` (tests): spans go there as each ends, whatever the environment says."""
    global _provider, _service, _global_set
    if _provider is not None:
        if service_name != _service:
            log.warning("tracing already set up for another service in this process",
                        service=_service, also=service_name)
        return True
    if exporter is None and not configured():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES; the service's own name wins.
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()) if exporter is None
                                else SimpleSpanProcessor(exporter))
    if exporter is None and not _global_set:
        trace.set_tracer_provider(provider)
        _global_set = True
    _provider, _service = provider, service_name
    # Every httpx client on httpx's own transports (SMS providers, zeep's SOAP client, ...);
    # clients on another transport are instrumented one by one (instrument_client).
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        # No spans for probes and scrapes made from here either (ops polls every service's /metrics).
        os.environ.setdefault("OTEL_PYTHON_HTTPX_EXCLUDED_URLS", EXCLUDED_URLS)
        instrumentor.instrument(tracer_provider=provider)
    if exporter is None:
        endpoint = next(os.environ[n] for n in ENDPOINT_VARIABLES if os.environ.get(n, "").strip())
        log.info("tracing on", endpoint=endpoint)
    return True


def instrument_app(app) -> None:
    """Server spans for a FastAPI app (no-op while tracing is off)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls=EXCLUDED_URLS,
                                       exclude_spans=["receive", "send"])


def instrument_client(client) -> None:
    """Client spans (and ``traceparent`` injected) for an httpx client whose transport is not one of
    httpx's own, e.g. the adapters' aiohttp pool; no-op while tracing is off."""
    if _provider is None:
        return
    import httpx
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if type(client._transport) in (httpx.AsyncHTTPTransport, httpx.HTTPTransport):
        return  # already covered by the global instrumentation
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)


def shutdown(timeout_seconds: float = 3.0) -> None:
    """Export what is still buffered, then stop (at process stop)."""
    global _provider, _service
    if _provider is None:
        return
    provider, _provider, _service = _provider, None, None
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    try:
        provider.force_flush(timeout_millis=int(timeout_seconds * 1000))
        provider.shutdown()
    except Exception as exc:  # a collector that is gone must not stop the process from stopping
        log.warning("tracing shutdown failed", error=repr(exc))


def _tracer():
    return trace.get_tracer("haulbridge_runtime", tracer_provider=_provider)


def format_traceparent(context: trace.SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span being recorded now, or None (no span, or tracing off)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    return format_traceparent(span.get_span_context())


def parent_context(traceparent: str | None):
    """An OpenTelemetry context whose (remote) parent is ``traceparent``."""
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})


@contextmanager
def consumer_span(*, topic: str, partition: int, offset: int, key: bytes | None, group: str,
                  event_id: str, event_type: str, traceparent: str | None) -> Iterator[Any]:
    """A CONSUMER span "<topic> process", child of the event's ``traceparent``, current while the
    handler runs; yields None while tracing is off."""
    if _provider is None:
        yield None
        return
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
        "messaging.consumer.group.name": group,
        "messaging.message.id": event_id,
        "cloudevents.event_id": event_id,
        "cloudevents.event_type": event_type,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key.decode("utf-8", "replace")
    with _tracer().start_as_current_span(f"{topic} process", context=parent_context(traceparent),
                                         kind=SpanKind.CONSUMER, attributes=attributes) as span:
        yield span


def set_outcome(span, outcome: str) -> None:
    """What became of a consumed event (processed, duplicate, dead_lettered, ...)."""
    if span is None:
        return
    span.set_attribute("haulbridge.outcome", outcome)
    if outcome == "dead_lettered":
        span.set_status(Status(StatusCode.ERROR, "parked in the dead-letter topic"))


class _PublishSpans:
    def __init__(self) -> None:
        self.spans: list = []

    def add(self, *, topic: str, key: str | None, event_id: str, event_type: str, traceparent: str | None) -> None:
        if _provider is None:
            return
        attributes = {"messaging.system": "kafka", "messaging.operation.type": "send",
                      "messaging.operation.name": "send", "messaging.destination.name": topic,
                      "messaging.message.id": event_id, "cloudevents.event_id": event_id,
                      "cloudevents.event_type": event_type}
        if key is not None:
            attributes["messaging.kafka.message.key"] = key
        self.spans.append(_tracer().start_span(f"{topic} publish", context=parent_context(traceparent),
                                               kind=SpanKind.PRODUCER, attributes=attributes))


@contextmanager
def publish_spans() -> Iterator[_PublishSpans]:
    """PRODUCER spans for one batch the outbox relay publishes, each a child of its event's
    ``traceparent``; they end when the broker acknowledged the batch (or it failed)."""
    batch = _PublishSpans()
    try:
        yield batch
    except BaseException as exc:
        for span in batch.spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
        raise
    for span in batch.spans:
        span.end()


def record_failure(span, exc: BaseException, *, attempt: int) -> None:
    """A failed attempt of a handler, as an exception event on its consumer span."""
    if span is not None:
        span.record_exception(exc, attributes={"haulbridge.attempt": attempt})


@contextmanager
def span(name: str, *, traceparent: str | None, attributes: dict[str, Any] | None = None) -> Iterator[Any]:
    """An INTERNAL span, current inside, child of ``traceparent``: work for one booking done outside its
    trace's spans (a background job sending a message; a hauler's report arriving by webhook, whose
    request span, of the vendor's own trace, is linked). Yields None while tracing is off."""
    if _provider is None:
        yield None
        return
    parent = parent_context(traceparent)
    outer = trace.get_current_span().get_span_context()
    in_parent = trace.get_current_span(parent).get_span_context()
    links = [trace.Link(outer)] if outer.is_valid and outer.trace_id != in_parent.trace_id else None
    with _tracer().start_as_current_span(name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes,
                                         links=links) as current:
        yield current
