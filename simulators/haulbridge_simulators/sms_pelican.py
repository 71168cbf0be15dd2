"""An SMS provider with a Twilio-style API ("Pelican SMS").

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json
                         send a text: HTTP Basic auth (AccountSid, auth token), form-encoded
                         To, From, Body and optional StatusCallback; answers 201 with the message.
                         No idempotency: the same request twice sends two texts.
    POST /_sim/inbound   a resident texts the city: {"from": "+14085551234", "body": "STOP"}; the
                         simulator calls the inbound webhook (signed, inside this request) and
                         answers {"webhook_status": 200, "replies": [the TwiML <Message> texts]}
    plus the handset log, stats, faults and outage under /_sim (see ``_sms_common``).

When a message names a StatusCallback, the simulator posts "sent" there after ``receipt_delay``
seconds and "delivered" (or "undelivered", ErrorCode 30003, for numbers ending in 0000) after
another ``receipt_delay``, form-encoded and signed ``X-Twilio-Signature``; failed deliveries are
retried with backoff.

    python -m haulbridge_simulators.sms_pelican   (settings from SIM_PELICAN_* environment variables)
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._sms_common import E164, MAX_BODY_CHARS, SmsSim, deliver, retry_after, unreachable


class PelicanSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_PELICAN_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8111
    account_sid: str = "AC00000000000000000000000000000001"
    auth_token: str = "pelican-demo-auth-token"
    from_number: str = "+14085550100"
    inbound_webhook_url: str = "http://127.0.0.1:8003/webhooks/sms/pelican/inbound"
    receipt_delay: float = 0.2


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each sorted field's name and value."""
    payload = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "status": status,
                         "more_info": f"https://www.pelican-sms.example/docs/errors/{code}"},
                        status_code=status, headers=headers)


def _basic_auth(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username, password


def _twiml_replies(response: httpx.Response) -> list[str]:
    """The texts of the <Message> elements of a TwiML answer."""
    if not response.is_success or response.headers.get("content-type", "").split(";")[0].strip() not in (
            "text/xml", "application/xml"):
        return []
    replies = []
    for message in ET.fromstring(response.content).iter("Message"):
        body = message.find("Body")
        text = ((body if body is not None else message).text or "").strip()
        if text:
            replies.append(text)
    return replies


def build_app(settings: PelicanSettings | None = None) -> FastAPI:
    s = settings or PelicanSettings()
    app = FastAPI(title="Pelican SMS API (simulator)")
    sim = SmsSim()
    app.state.sim = sim
    app.include_router(sim.router())

    def _sid() -> str:
        return f"SM{uuid.uuid4().hex}"

    def _signed(url: str, params: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        return urlencode(params).encode(), {"X-Twilio-Signature": signature(s.auth_token, url, params),
                                            "content-type": "application/x-www-form-urlencoded"}

    async def _lifecycle(message: dict, callback: str | None) -> None:
        final = "undelivered" if unreachable(message["to"]) else "delivered"
        for status in ("sent", final):
            await asyncio.sleep(s.receipt_delay)
            message["status"] = status
            if callback:
                params = {"MessageSid": message["id"], "SmsSid": message["id"], "AccountSid": s.account_sid,
                          "From": message["from"], "To": message["to"],
                          "MessageStatus": status, "SmsStatus": status}
                if status == "undelivered":
                    params["ErrorCode"] = "30003"
                body, headers = _signed(callback, params)
                await deliver(callback, body, lambda: headers)

    @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json", status_code=201)
    async def create_message(account_sid: str, request: Request, authorization: str | None = Header(default=None)):
        if account_sid != s.account_sid or _basic_auth(authorization) != (s.account_sid, s.auth_token):
            return _error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Pelican API"'})
        raw = await request.body()  # before any delay: the client may give up waiting meanwhile
        if fault := await sim.fault():
            return _error(fault["status"], 20000 + fault["status"], "Simulated fault", retry_after(fault))
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        to, sender, body = form.get("To"), form.get("From"), form.get("Body")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        message = sim.record(id=_sid(), to=to, sender=sender, body=body, status="queued")
        sim.spawn(_lifecycle(message, form.get("StatusCallback")))
        return {"sid": message["id"], "account_sid": s.account_sid, "to": to, "from": sender, "body": body,
                "status": "queued", "num_segments": str(message["segments"]),
                "date_created": format_datetime(datetime.now(UTC)), "error_code": None, "error_message": None}

    @app.post("/_sim/inbound")
    async def inbound(request: Request):
        text = await request.json()
        sid = _sid()
        params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": s.account_sid, "From": text["from"],
                  "To": s.from_number, "Body": text["body"], "NumMedia": "0"}
        body, headers = _signed(s.inbound_webhook_url, params)
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(s.inbound_webhook_url, content=body, headers=headers)
        replies = _twiml_replies(response)
        for reply in replies:
            sim.record(id=_sid(), to=text["from"], sender=s.from_number, body=reply, status="delivered")
        return {"webhook_status": response.status_code, "replies": replies}

    return app


def main() -> None:
    s = PelicanSettings()
    uvicorn.run(build_app(s), host=s.host, port=s.port, log_level="warning")


if __name__ == "__main__":
    main()
