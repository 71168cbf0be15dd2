"""An SMS provider with a modern JSON API and signed webhooks ("Kestrel Messaging").

    POST /v2/messages    send a text: Authorization: Bearer <api key>; JSON {"to", "text", and
                         optionally "from", "client_reference", "callback_url"}; answers 202 with
                         the message. Idempotent on the optional Idempotency-Key header: a repeat
                         of an accepted key answers 200 with the same message and sends nothing.
    POST /_sim/inbound   a resident texts the city: {"from": "+14085551234", "text": "C"}; the
                         simulator calls the webhook (signed, inside this request) and answers
                         {"webhook_status": 204}. Kestrel has no inline replies.
    plus the handset log, stats, faults and outage under /_sim (see ``_sms_common``).

After ``receipt_delay`` seconds each message's final state ("delivered", or "failed" for numbers
ending in 0000) is posted to its callback URL as a ``message.status`` event, signed Standard
Webhooks style; failed deliveries are retried with backoff.

    python -m haulbridge_simulators.sms_kestrel   (settings from SIM_KESTREL_* environment variables)
"""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import httpx
import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict
from standardwebhooks.webhooks import Webhook

from ._sms_common import E164, MAX_BODY_CHARS, SmsSim, deliver, now_iso, retry_after, unreachable


class KestrelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_KESTREL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8112
    api_key: str = "kestrel-demo-api-key"
    webhook_url: str = "http://127.0.0.1:8003/webhooks/sms/kestrel"
    webhook_secret: str = "whsec_a2VzdHJlbC1kZW1vLXdlYmhvb2stc2VjcmV0"
    sender_id: str = "+14085550200"
    receipt_delay: float = 0.2


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "detail": detail}}, status_code=status, headers=headers)


def _invalid(body: object) -> JSONResponse | None:
    """The 422 a send request's body earns, if any."""
    if not isinstance(body, dict):
        return _error(422, "invalid_request", "the body must be a JSON object")
    if not isinstance(body.get("to"), str) or not E164.match(body["to"]):
        return _error(422, "invalid_recipient", "'to' must be a phone number in E.164 format")
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return _error(422, "invalid_request", "'text' is required")
    if len(text) > MAX_BODY_CHARS:
        return _error(422, "invalid_request", f"'text' is longer than {MAX_BODY_CHARS} characters")
    reference = body.get("client_reference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 100):
        return _error(422, "invalid_request", "'client_reference' must be a string of at most 100 characters")
    return None


def build_app(settings: KestrelSettings | None = None) -> FastAPI:
    s = settings or KestrelSettings()
    app = FastAPI(title="Kestrel Messaging API (simulator)")
    sim = SmsSim()
    by_key: dict[str, dict] = {}
    signer = Webhook(s.webhook_secret)
    app.state.sim = sim
    app.include_router(sim.router())

    def _signed_headers(event_id: str, body: str) -> dict[str, str]:
        now = datetime.now(UTC)
        return {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signer.sign(event_id, now, body), "content-type": "application/json"}

    def _event(event_type: str, data: dict) -> tuple[str, str]:
        return f"evt_{uuid.uuid4().hex}", json.dumps({"type": event_type, "data": data})

    async def _receipt(message: dict, callback: str) -> None:
        await asyncio.sleep(s.receipt_delay)
        failed = unreachable(message["to"])
        message["status"] = "failed" if failed else "delivered"
        event_id, body = _event("message.status", {
            "id": message["id"], "client_reference": message["client_reference"], "to": message["to"],
            "state": message["status"], "occurred_at": now_iso(),
            "error": {"code": "unreachable", "detail": "The handset could not be reached"} if failed else None})
        await deliver(callback, body.encode(), lambda: _signed_headers(event_id, body))

    def _view(message: dict) -> dict:
        return {"id": message["id"], "state": "accepted", "to": message["to"], "from": message["from"],
                "segments": message["segments"], "encoding": message["encoding"],
                "client_reference": message["client_reference"], "created_at": message["created_at"]}

    @app.post("/v2/messages", status_code=202)
    async def create_message(request: Request, authorization: str | None = Header(default=None),
                             idempotency_key: str | None = Header(default=None)):
        if authorization != f"Bearer {s.api_key}":
            return _error(401, "unauthorized", "missing or invalid API key")
        raw = await request.body()  # before any delay: the client may give up waiting meanwhile
        if fault := await sim.fault():
            code = "rate_limited" if fault["status"] == 429 else "unavailable"
            return _error(fault["status"], code, "simulated fault", retry_after(fault))
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(422, "invalid_request", "the body is not JSON")
        if invalid := _invalid(body):
            return invalid
        if idempotency_key in by_key:
            return JSONResponse(_view(by_key[idempotency_key]), status_code=200)
        message = sim.record(id=f"msg_{uuid.uuid4().hex[:24]}", to=body["to"], sender=body.get("from") or s.sender_id,
                             body=body["text"], status="accepted", client_reference=body.get("client_reference"))
        if idempotency_key:
            by_key[idempotency_key] = message
        sim.spawn(_receipt(message, body.get("callback_url") or s.webhook_url))
        return _view(message)

    @app.post("/_sim/inbound")
    async def inbound(request: Request):
        text = await request.json()
        event_id, body = _event("message.inbound", {
            "id": f"in_{uuid.uuid4().hex}", "from": text["from"], "to": s.sender_id, "text": text["text"],
            "received_at": now_iso()})
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(s.webhook_url, content=body, headers=_signed_headers(event_id, body))
        return {"webhook_status": response.status_code}

    return app


def main() -> None:
    s = KestrelSettings()
    uvicorn.run(build_app(s), host=s.host, port=s.port, log_level="warning")


if __name__ == "__main__":
    main()
