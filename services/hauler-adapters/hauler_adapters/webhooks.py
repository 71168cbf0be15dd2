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

from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.problems import NotFound, Problem, Unauthorized, problem_responses

from . import reports, repository
from .vendors.base import VendorReport

log = get_logger(__name__)

router = APIRouter(tags=["webhooks"])

# Vendor status words (JSON API kind) → the job's status in the city's words.
JSON_API_STATUSES = {"job.confirmed": "confirmed", "job.completed": "completed"}


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

    status = JSON_API_STATUSES.get(payload.get("type"))
    async with pool.acquire() as conn:
        async with conn.transaction():
            if not await repository.log_webhook(conn, hauler_id=hauler_id, webhook_id=webhook_id, verified=True,
                                                outcome="applied" if status else "ignored", payload=payload):
                return Response(status_code=204)  # the same webhook again: already applied
            if status is None:
                log.info("webhook type ignored", hauler_id=hauler_id, type=payload.get("type"))
                return Response(status_code=204)
            booking_id = _uuid_or_none(payload.get("customer_reference"))
            dispatch = await repository.find_dispatch(conn, hauler_id=hauler_id,
                                                      external_ref=payload.get("job_id"), booking_id=booking_id)
            if dispatch is None:
                # Raising rolls the log row back, so the vendor's retry is processed once we know the job.
                raise UnknownJob(f"Hauler '{hauler_id}' reported job '{payload.get('job_id')}', "
                                 "which the city has not dispatched.")
            applied = await reports.apply(conn, dispatch, VendorReport(
                external_ref=payload.get("job_id"), status=status, pickup_date=payload.get("service_date"),
                window=payload.get("window"), occurred_at=payload.get("occurred_at")))
            if not applied:
                await repository.set_webhook_outcome(conn, hauler_id=hauler_id, webhook_id=webhook_id,
                                                     outcome="stale")
    log.info("webhook received", hauler_id=hauler_id, webhook_id=webhook_id, status=status, applied=applied)
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
