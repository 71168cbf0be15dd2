"""Prometheus metrics every service exposes on ``/metrics``.

Names and labels are listed in docs/metrics.md; change both together.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "haulbridge_http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "haulbridge_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
EVENTS_PUBLISHED = Counter(
    "haulbridge_events_published_total", "Events published by the outbox relay", ["service", "topic"]
)
EVENTS_CONSUMED = Counter(
    "haulbridge_events_consumed_total",
    "Events handled by a consumer, by outcome (processed, duplicate, dead_lettered)",
    ["service", "topic", "outcome"],
)
EVENT_HANDLER_ERRORS = Counter(
    "haulbridge_event_handler_errors_total", "Failed attempts at handling an event", ["service", "topic"]
)
EVENT_HANDLE_SECONDS = Histogram(
    "haulbridge_event_handle_seconds", "Time to handle one event", ["service", "topic"]
)
CONSUMER_LAG = Gauge(
    "haulbridge_consumer_lag", "Records behind the end of the partition", ["service", "topic", "partition"]
)
OUTBOX_BACKLOG = Gauge("haulbridge_outbox_backlog", "Outbox rows not yet published", ["service"])
DLQ_PUBLISHED = Counter(
    "haulbridge_dlq_published_total", "Events parked in a dead-letter topic", ["service", "topic"]
)
