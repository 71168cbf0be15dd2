"""Inbound hauler webhooks (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; HMAC-SHA256 over ``id.timestamp.body``).

A bad signature or a timestamp outside the five-minute replay window is
refused with 401 and logged (the vendor's payload is kept for operations). A
verified webhook is applied once: its id is the dedupe key, and the log row,
the dispatch status and the city event are written in one transaction.
"""
from __future__ import annotations

import json
import os
import uuid

from fastapi import APIRouter, Request, Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from haulbridge_runtime.envelope import child_traceparent, new_event
from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.problems import NotFound, Problem, Unauthorized, problem_responses
from haulbridge_runtime.topics import EventType

from . import repository
from .dispatch import SOURCE

log = get_logger(__name__)

router = APIRouter(tags=["webhooks"])

# Vendor status words (JSON API kind) → the city's event.
JSON_API_EVENTS = {
    "job.confirmed": (EventType.PICKUP_CONFIRMED, "confirmed"),
    "job.completed": (EventType.PICKUP_COMPLETED, "completed"),
}


class UnknownJob(Problem):
    status, slug, title = 404, "unknown-job", "Job not known to the city"


@router.post("/webhooks/{hauler_id}", status_code=204, responses=problem_responses(400, 401, 404))
async def hauler_webhook(hauler_id: str, request: Request) -> Response:
    pool = request.app.state.runtime.pool
    body = await request.body()
    async with pool.acquire() as conn:
        integration = await repository.get_integration(conn, hauler_id)
    if integration is None or not integration.webhook_secret_env:
        raise NotFound(f"No webhook is configured for hauler '{hauler_id}'.")
    secret = os.environ.get(integration.webhook_secret_env, "")
    webhook_id = request.headers.get("webhook-id")
    try:
        payload = Webhook(secret).verify(body, dict(request.headers))
    except WebhookVerificationError as exc:
        async with pool.acquire() as conn:
            await repository.log_webhook(conn, hauler_id=hauler_id, webhook_id=webhook_id, verified=False,
                                         outcome="rejected_signature", payload=_safe_json(body))
        log.warning("webhook refused", hauler_id=hauler_id, webhook_id=webhook_id, reason=str(exc))
        raise Unauthorized(f"Webhook signature or timestamp not valid: {exc}.") from exc

    mapped = JSON_API_EVENTS.get(payload.get("type"))
    async with pool.acquire() as conn:
        async with conn.transaction():
            if not await repository.log_webhook(conn, hauler_id=hauler_id, webhook_id=webhook_id, verified=True,
                                                outcome="applied" if mapped else "ignored", payload=payload):
                return Response(status_code=204)  # the same webhook again: already applied
            if mapped is None:
                log.info("webhook type ignored", hauler_id=hauler_id, type=payload.get("type"))
                return Response(status_code=204)
            event_type, status = mapped
            booking_id = _uuid_or_none(payload.get("customer_reference"))
            dispatch = await repository.find_dispatch(conn, hauler_id=hauler_id,
                                                      external_ref=payload.get("job_id"), booking_id=booking_id)
            if dispatch is None:
                # Raising rolls the log row back, so the vendor's retry is processed once we know the job.
                raise UnknownJob(f"Hauler '{hauler_id}' reported job '{payload.get('job_id')}', "
                                 "which the city has not dispatched.")
            await repository.set_dispatch_status(conn, dispatch["booking_id"], status, payload.get("job_id"))
            data = {"booking_id": str(dispatch["booking_id"]), "hauler_id": hauler_id,
                    "reference": dispatch["reference"], "hauler_reference": payload.get("job_id")}
            if status == "confirmed":
                data["pickup_date"] = payload.get("service_date") or dispatch["pickup_date"].isoformat()
                if payload.get("window"):
                    data["window"] = payload["window"]
            else:
                data["completed_at"] = payload.get("occurred_at")
            await add_event(conn, new_event(
                type=event_type, source=SOURCE, subject=str(dispatch["booking_id"]), data=data,
                correlation_id=dispatch["correlation_id"],
                traceparent=child_traceparent(dispatch["traceparent"]),
            ))
    log.info("webhook applied", hauler_id=hauler_id, webhook_id=webhook_id, status=status)
    return Response(status_code=204)


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


def _safe_json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return {"unparsed": body[:2000].decode(errors="replace")}
