"""Vendor calls over the aiohttp pool get CLIENT spans and carry the trace to the vendor (traceparent)."""
from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from devstack.infra import free_port
from devstack.testing import http_server
from haulbridge_runtime import tracing
from hauler_adapters.vendors import http
from hauler_adapters.vendors.retrying import vendor_transport


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    assert tracing.setup("hauler-adapters", exporter=exporter)
    yield exporter
    tracing.shutdown()


def _vendor() -> FastAPI:
    app = FastAPI()

    @app.post("/oauth/token")
    async def token():
        return {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}

    @app.post("/jobs")
    async def job(request: Request):
        return {"traceparent": request.headers.get("traceparent")}

    return app


@pytest.mark.parametrize("oauth2", [None, {"token_url": "/oauth/token", "client_id": "haulbridge"}])
async def test_a_vendor_call_is_a_client_span_of_the_trace_it_is_made_in(spans, oauth2):
    async with http_server(_vendor(), free_port()) as url:
        vendor = http.client(base_url=url, timeout=5, secret="secret", oauth2=oauth2)
        assert type(vendor._transport) is type(vendor_transport())  # the aiohttp pool, not httpx's own
        try:
            with tracing.span("dispatch", traceparent=None) as dispatch:
                answer = (await http.call(vendor, "POST", "/jobs", json={})).json()
        finally:
            await vendor.aclose()

    clients = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(clients) == (2 if oauth2 else 1)  # the token, then the job
    call = clients[-1]
    assert call.parent.span_id == dispatch.get_span_context().span_id
    assert call.context.trace_id == dispatch.get_span_context().trace_id
    assert call.attributes.get("http.response.status_code", call.attributes.get("http.status_code")) == 200
    assert answer["traceparent"] == tracing.format_traceparent(call.context)  # the vendor saw the call's span
