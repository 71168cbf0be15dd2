"""The small page a dispatch office without any system of its own answers on (email vendors).

    GET  /vendor/{hauler_id}/jobs/{token}            the job and four buttons
    POST /vendor/{hauler_id}/jobs/{token}/confirm    (optional window_from, window_to)
    POST /vendor/{hauler_id}/jobs/{token}/propose    new_date (yyyy-mm-dd), optional reason
    POST /vendor/{hauler_id}/jobs/{token}/done
    POST /vendor/{hauler_id}/jobs/{token}/missed     reason

The token in the link is the booking signed for that hauler (``vendors.email_office``); a
forged or foreign link is refused (404 problem) and changes nothing. Each answer is applied
with :mod:`reports` (once, forward only): clicking "done" twice publishes one
``pickup.completed``. Forms post ``application/x-www-form-urlencoded``; a JSON body works too.
"""
from __future__ import annotations

import json
import uuid
from datetime import date
from html import escape
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.problems import NotFound, Problem, problem_responses

from . import reports, repository
from .vendors.base import VendorReport
from .vendors.email_office import ACTIONS, EmailOfficeAdapter, booking_of_token

log = get_logger(__name__)

router = APIRouter(prefix="/vendor", tags=["vendor pages"])

STATUS_OF = {"confirm": "confirmed", "propose": "rescheduled", "done": "completed", "missed": "missed"}


class AnswerNotValid(Problem):
    status, slug, title = 422, "vendor-answer-not-valid", "Answer not valid"


async def _job(request: Request, hauler_id: str, token: str):
    async with request.app.state.runtime.pool.acquire() as conn:
        integration = await repository.get_integration(conn, hauler_id)
        if integration is None or integration.kind != EmailOfficeAdapter.kind:
            raise NotFound(f"No email dispatch office '{hauler_id}' here.")
        booking_id = booking_of_token(integration, token)
        dispatch = await repository.find_dispatch_by_booking(conn, hauler_id=hauler_id,
                                                             booking_id=uuid.UUID(booking_id)) if booking_id else None
    if dispatch is None:
        raise NotFound("This link is not valid for any job of yours.")
    return dispatch


@router.get("/{hauler_id}/jobs/{token}", response_class=HTMLResponse, responses=problem_responses(404),
            summary="The job, with buttons to answer")
async def job_page(hauler_id: str, token: str, request: Request) -> HTMLResponse:
    dispatch = await _job(request, hauler_id, token)
    base = f"/vendor/{escape(hauler_id)}/jobs/{escape(token)}"
    return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Junk pickup {escape(dispatch['reference'])}</title></head><body>
<main><h1>Junk pickup {escape(dispatch['reference'])}</h1>
<p>Pickup day: <strong>{dispatch['pickup_date']:%A %d %B %Y}</strong>. Status: {escape(dispatch['status'])}.</p>
<form method="post" action="{base}/confirm" id="confirm"><h2>We will collect that day</h2>
<label>From <input name="window_from" placeholder="08:00"></label>
<label>to <input name="window_to" placeholder="12:00"></label> <button>Confirm</button></form>
<form method="post" action="{base}/propose" id="propose"><h2>Propose another day</h2>
<label>Day <input type="date" name="new_date" required></label>
<label>Why <input name="reason"></label> <button>Propose</button></form>
<form method="post" action="{base}/done" id="done"><h2>Collected</h2><button>Done</button></form>
<form method="post" action="{base}/missed" id="missed"><h2>Could not collect</h2>
<label>Why <input name="reason" required></label> <button>Missed</button></form>
</main></body></html>""")


@router.post("/{hauler_id}/jobs/{token}/{action}", responses=problem_responses(404, 422),
             summary="Answer about the job")
async def answer(hauler_id: str, token: str, action: str, request: Request) -> dict:
    if action not in ACTIONS:
        raise NotFound(f"No answer '{action}'. Answers: {', '.join(ACTIONS)}.")
    dispatch = await _job(request, hauler_id, token)
    form = await _form(request)
    report = VendorReport(external_ref=dispatch["external_ref"] or dispatch["reference"], status=STATUS_OF[action],
                          reason=form.get("reason") or None)
    if action == "confirm" and form.get("window_from") and form.get("window_to"):
        report = VendorReport(external_ref=report.external_ref, status="confirmed",
                              window={"from": form["window_from"], "to": form["window_to"]})
    if action == "propose":
        try:
            new_date = date.fromisoformat(form.get("new_date", ""))
        except ValueError as exc:
            raise AnswerNotValid("new_date must be a day, e.g. 2026-12-09.") from exc
        report = VendorReport(external_ref=report.external_ref, status="rescheduled",
                              pickup_date=new_date.isoformat(), reason=report.reason)
    if action == "missed" and not report.reason:
        raise AnswerNotValid("Say why the pickup was missed (reason).")
    outcome = await reports.receive(request.app.state.runtime.pool, hauler_id, report,
                                    booking_id=dispatch["booking_id"])
    log.info("vendor answer by link", hauler_id=hauler_id, reference=dispatch["reference"], action=action,
             outcome=outcome)
    return {"reference": dispatch["reference"], "answer": action, "outcome": outcome}


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise AnswerNotValid("The body is not JSON.") from exc
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode(errors="replace")))
