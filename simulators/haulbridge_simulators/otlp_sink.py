"""A development trace collector: receives OTLP/HTTP (protobuf) spans and lists them as JSON.

    POST   /v1/traces         OTLP/HTTP export (application/x-protobuf, optionally gzip), as a
                              collector takes it (what OTEL_EXPORTER_OTLP_ENDPOINT points at)
    GET    /_sim/spans        every span received, oldest first; filter with ?trace_id=, ?service=,
                              ?name= (each span: trace_id, span_id, parent_span_id, name, kind,
                              service.name, start/end time, status, attributes, events)
    GET    /_sim/traces       one line per trace: its services, span count and root span
    GET    /_sim/stats        how many exports, spans and traces (also the readiness probe)
    DELETE /_sim/spans        forget everything

Spans are kept in memory, the oldest dropped beyond SIM_OTLP_MAX_SPANS.

    python -m haulbridge_simulators.otlp_sink   (settings from SIM_OTLP_* environment variables)
"""
from __future__ import annotations

import gzip
import zlib
from collections import deque

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from pydantic_settings import BaseSettings, SettingsConfigDict

PROTOBUF = "application/x-protobuf"
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


class OtlpSinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_OTLP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 4318
    max_spans: int = 100_000


def _value(value: AnyValue):
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def _attributes(key_values) -> dict:
    return {kv.key: _value(kv.value) for kv in key_values}


def spans_of(request: ExportTraceServiceRequest) -> list[dict]:
    """The spans of one export, flattened, each with its resource's ``service.name``."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "name": span.name,
                    "kind": KINDS.get(span.kind, str(span.kind)),
                    "service.name": resource.get("service.name"),
                    "scope": scope_spans.scope.name,
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "status": {"code": STATUS.get(span.status.code, str(span.status.code)),
                               "message": span.status.message},
                    "attributes": _attributes(span.attributes),
                    "events": [{"name": e.name, "attributes": _attributes(e.attributes)} for e in span.events],
                    "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()} for link in span.links],
                })
    return spans


def build_app(settings: OtlpSinkSettings | None = None) -> FastAPI:
    s = settings or OtlpSinkSettings()
    app = FastAPI(title="OTLP trace sink (simulator)")
    spans: deque[dict] = deque(maxlen=s.max_spans)
    counts = {"exports": 0, "spans_received": 0}

    @app.post("/v1/traces")
    async def export(request: Request):
        if request.headers.get("content-type", "").split(";")[0].strip() != PROTOBUF:
            raise HTTPException(415, f"only {PROTOBUF} is accepted here")
        body = await request.body()
        encoding = request.headers.get("content-encoding", "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            received = spans_of(ExportTraceServiceRequest.FromString(body))
        except (DecodeError, OSError, zlib.error) as exc:
            raise HTTPException(400, f"not an OTLP trace export: {exc}") from exc
        spans.extend(received)
        counts["exports"] += 1
        counts["spans_received"] += len(received)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)

    @app.get("/_sim/spans")
    async def list_spans(trace_id: str | None = None, service: str | None = None, name: str | None = None):
        return [span for span in spans
                if (trace_id is None or span["trace_id"] == trace_id.lower())
                and (service is None or span["service.name"] == service)
                and (name is None or span["name"] == name)]

    @app.get("/_sim/traces")
    async def list_traces():
        traces: dict[str, dict] = {}
        for span in spans:
            entry = traces.setdefault(span["trace_id"], {"trace_id": span["trace_id"], "spans": 0, "services": [],
                                                          "root": None})
            entry["spans"] += 1
            if span["service.name"] not in entry["services"]:
                entry["services"].append(span["service.name"])
            if span["parent_span_id"] is None:
                entry["root"] = f"{span['service.name']}: {span['name']}"
        return list(traces.values())

    @app.get("/_sim/stats")
    async def stats():
        return {**counts, "spans": len(spans), "traces": len({span["trace_id"] for span in spans})}

    @app.delete("/_sim/spans", status_code=204)
    async def forget():
        spans.clear()

    return app


def main() -> None:
    s = OtlpSinkSettings()
    uvicorn.run(build_app(s), host=s.host, port=s.port, log_level="warning")


if __name__ == "__main__":
    main()
