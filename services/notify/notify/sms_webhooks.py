"""The SMS providers' callbacks: delivery receipts and residents' texts, each signed.

    POST /webhooks/sms/pelican/status?notification={id}   Pelican status callback (form, X-Twilio-Signature)
    POST /webhooks/sms/pelican/inbound                    Pelican inbound text (form, X-Twilio-Signature;
                                                          answered with an empty TwiML <Response/>)
    POST /webhooks/sms/kestrel                            Kestrel message.status / message.inbound
                                                          (JSON, Standard Webhooks signature)

A callback whose signature does not verify is refused (401 problem) and changes nothing. A
receipt moves the message's ``delivery_status`` forward only (sent → delivered | undelivered),
so receipts that come twice or out of order leave one correct state.
"""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.problems import NotFound, Problem, Unauthorized, problem_responses

from . import repository, resident_texts
from .sms_providers import BadSignature, Kestrel, Pelican, Receipt

log = get_logger(__name__)

router = APIRouter(prefix="/webhooks/sms", tags=["sms webhooks"])


class CallbackNotUnderstood(Problem):
    status, slug, title = 422, "sms-callback-not-understood", "SMS callback not understood"


def _provider(request: Request, kind: type):
    for provider in request.app.state.sms_providers:
        if isinstance(provider, kind):
            return provider
    raise NotFound(f"The {kind.name} SMS provider is not configured here.")


async def _record(request: Request, receipt: Receipt, provider: str) -> None:
    if receipt.notification_id is None:
        log.info("receipt for a message not sent by us ignored", provider=provider)
        return
    async with request.app.state.runtime.pool.acquire() as conn:
        changed = await repository.record_delivery(
            conn, notification_id=receipt.notification_id, provider_message_id=receipt.provider_message_id,
            status=receipt.status, error=receipt.error)
    log.info("delivery receipt", provider=provider, notification_id=str(receipt.notification_id),
             delivery_status=receipt.status, applied=changed)


def _public_url(request: Request) -> str:
    """The URL the provider called (it signs that): our public base URL, this path and query."""
    base = request.app.state.settings.public_base_url.rstrip("/")
    return f"{base}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")


async def _pelican_params(request: Request) -> tuple[Pelican, dict[str, str]]:
    pelican = _provider(request, Pelican)
    try:
        return pelican, pelican.verify(_public_url(request), await request.body(), request.headers)
    except BadSignature as exc:
        log.warning("Pelican callback refused", reason=str(exc))
        raise Unauthorized(f"Pelican signature not valid: {exc}.") from exc


@router.post("/pelican/status", status_code=204, responses=problem_responses(401, 404, 422),
             summary="Pelican delivery status callback")
async def pelican_status(request: Request, notification: str | None = None) -> Response:
    pelican, params = await _pelican_params(request)
    if "MessageSid" not in params or "MessageStatus" not in params:
        raise CallbackNotUnderstood("A status callback needs MessageSid and MessageStatus.")
    await _record(request, pelican.receipt(params, notification), pelican.name)
    return Response(status_code=204)


@router.post("/pelican/inbound", responses=problem_responses(401, 404, 422), summary="Pelican inbound text",
             response_class=Response)
async def pelican_inbound(request: Request) -> Response:
    pelican, params = await _pelican_params(request)
    if not {"MessageSid", "From", "Body"} <= params.keys():
        raise CallbackNotUnderstood("An inbound text needs MessageSid, From and Body.")
    await resident_texts.receive(request.app.state.runtime.pool, pelican.inbound(params), provider=pelican.name)
    # Replies go through the sender (once, recorded, in the resident's language), not inline.
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="text/xml")


@router.post("/kestrel", status_code=204, responses=problem_responses(401, 404, 422),
             summary="Kestrel delivery receipt or inbound text")
async def kestrel_callback(request: Request) -> Response:
    kestrel = _provider(request, Kestrel)
    try:
        payload = kestrel.verify(await request.body(), request.headers)
    except BadSignature as exc:
        log.warning("Kestrel callback refused", reason=str(exc))
        raise Unauthorized(f"Kestrel signature not valid: {exc}.") from exc
    data = payload.get("data") if isinstance(payload, dict) else None
    try:
        if payload.get("type") == "message.status":
            await _record(request, kestrel.receipt(data), kestrel.name)
        elif payload.get("type") == "message.inbound":
            await resident_texts.receive(request.app.state.runtime.pool, kestrel.inbound(data), provider=kestrel.name)
        else:
            log.info("Kestrel callback type ignored", type=payload.get("type"))
    except (KeyError, TypeError, AttributeError) as exc:
        raise CallbackNotUnderstood(f"Kestrel callback without the field {exc}.") from exc
    return Response(status_code=204)
