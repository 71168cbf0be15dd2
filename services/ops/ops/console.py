"""The operations console: server-rendered pages over plain service functions.

Every page needs a signed-in staff member (viewer and up); repairs need the operator role and
staff accounts the admin role. Every POST carries the session's CSRF token. Repairs go through
the owning service's operator API (services_api.py) and are recorded in ``staff_actions``.
"""
from __future__ import annotations

import asyncio
import json
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sse_starlette.sse import EventSourceResponse

from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.problems import NotFound, Problem

from . import kpis as kpi_rules
from . import overview, repository, staff
from .projection import phone_key
from .services_api import ServiceRefused, ServiceUnavailable
from .staff import StaffMember

log = get_logger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _delay(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"


templates.env.filters["pct"] = _pct
templates.env.filters["delay"] = _delay
router = APIRouter(include_in_schema=False)


def render(request: Request, name: str, member: StaffMember | None, status_code: int = 200, **context) -> HTMLResponse:
    flash = request.session.pop("flash", None)
    return templates.TemplateResponse(request, name, {
        "me": member, "csrf": staff.csrf_token(request), "flash": flash, "path": request.url.path, **context},
        status_code=status_code)


def _state(request: Request):
    return request.app.state


# -- signing in ----------------------------------------------------------------------------------

@router.get("/login")
async def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", None, next=next if next.startswith("/") else "/")


@router.post("/login", dependencies=[Depends(staff.check_csrf)])
async def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
    member = await staff.check_login(request.app.state.runtime.pool, request.app.state.login_limiter, username,
                                     password)
    if member is None:
        return render(request, "login.html", None, status_code=401, next=next, username=username,
                      error="That username and password do not match an active staff account.")
    request.session.clear()  # a new session, with a new CSRF token, for the signed-in member
    request.session.update({"username": member.username, "csrf": secrets.token_urlsafe(32)})
    return RedirectResponse(next if next.startswith("/") and not next.startswith("//") else "/", status_code=303)


@router.post("/logout", dependencies=[Depends(staff.check_csrf)])
async def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# -- overview ------------------------------------------------------------------------------------

@router.get("/")
async def overview_page(request: Request, me: StaffMember = Depends(staff.viewer)):
    figures = await overview.figures(request.app.state.runtime.pool, request.app.state.health)
    return render(request, "overview.html", me, figures=figures)


@router.get("/overview.json")
async def overview_json(request: Request, me: StaffMember = Depends(staff.viewer)) -> dict:
    return await overview.figures(request.app.state.runtime.pool, request.app.state.health)


@router.get("/overview/live")
async def overview_live(request: Request, me: StaffMember = Depends(staff.viewer)):
    """Server-sent events: the overview's figures every OPS_LIVE_SECONDS while the page is open."""
    state = request.app.state

    async def stream():
        while True:
            figures = await overview.figures(state.runtime.pool, state.health)
            yield {"event": "figures", "data": json.dumps(figures)}
            for fragment in ("overview_live", "overview_events", "overview_status"):  # the tables, rendered here
                html = templates.get_template(f"{fragment}.html").render(figures=figures)
                yield {"event": fragment, "data": html}
            await asyncio.sleep(state.runtime.settings.live_seconds)

    return EventSourceResponse(stream(), ping=15)


# -- bookings and their flows ----------------------------------------------------------------------

SEARCH_BY = ("reference", "address", "phone")


@router.get("/bookings")
async def bookings_page(request: Request, q: str = "", by: str = "reference",
                        me: StaffMember = Depends(staff.viewer)):
    by = by if by in SEARCH_BY else "reference"
    async with request.app.state.runtime.pool.acquire() as conn:
        if not q.strip():
            found = await repository.find_bookings(conn)
        elif by == "phone":
            key = phone_key(q, request.app.state.contact_hash_key)
            found = await repository.find_bookings(conn, phone_hash=key) if key else []
        else:
            found = await repository.find_bookings(conn, **{by: q})
    if q.strip() and by == "reference" and len(found) == 1:
        # a reference searched for (not one still being typed) opens the booking
        target = f"/bookings/{found[0]['booking_id']}"
        if "hx-request" not in request.headers:
            return RedirectResponse(target, status_code=303)
        if request.headers.get("hx-trigger") == "search":
            return Response(status_code=204, headers={"HX-Redirect": target})
    name = "bookings_results.html" if "hx-request" in request.headers else "bookings.html"
    return render(request, name, me, q=q, by=by, bookings=found, searched=bool(q.strip()))


def _steps(flow, vendor_calls, parked) -> list[dict]:
    steps = [{"at": f["occurred_at"], "kind": "message" if f["event_type"].endswith("notification.sent.v1") else "event",
              "what": f["summary"], "type": f["event_type"].removeprefix("org.haulbridge."), "source": f["source"],
              "trace_id": f["trace_id"]} for f in flow]
    for call in vendor_calls:
        at = datetime.fromisoformat(call["at"]) if isinstance(call["at"], str) else call["at"]
        detail = f" — {call['detail']}" if call.get("detail") else ""
        steps.append({"at": at, "kind": "vendor call", "type": f"{call['operation']} → {call['outcome']}",
                      "what": f"{call['hauler_id']} {call['operation']}: {call['outcome']}"
                              f" in {call.get('duration_ms', '?')} ms{detail}", "source": "hauler-adapters",
                      "trace_id": None})
    for letter in parked:
        steps.append({"at": letter["failed_at"] or datetime.now(UTC), "kind": "dead letter",
                      "type": f"parked by {letter['consumer']}",
                      "what": f"{letter['consumer']} could not process {letter['event_type']}: {letter['error']}"
                              f" ({letter['status']})", "source": letter["consumer"], "trace_id": None,
                      "link": f"/dead-letters/{letter['consumer']}/{letter['dlq_topic']}/{letter['partition']}"
                              f"/{letter['offset']}"})
    steps.sort(key=lambda s: s["at"])
    previous = None
    for step in steps:
        step["delay"] = (step["at"] - previous).total_seconds() if previous else None
        previous = step["at"]
    return steps


@router.get("/bookings/{booking_id}")
async def booking_page(request: Request, booking_id: str, me: StaffMember = Depends(staff.viewer)):
    state = request.app.state
    async with state.runtime.pool.acquire() as conn:
        row = await repository.booking(conn, booking_id)
        if row is None:
            raise NotFound(f"Ops has seen no booking {booking_id}.")
        flow = await repository.flow_of(conn, booking_id)
        parked = await repository.dead_letters_of(conn, booking_id)
    dispatch = await state.services_api.dispatch_of(booking_id)
    steps = _steps(flow, (dispatch or {}).get("vendor_calls", []), parked)
    template = state.runtime.settings.trace_url_template
    trace_url = template.format(trace_id=row["trace_id"]) if template and row["trace_id"] else None
    return render(request, "booking.html", me, booking=row, steps=steps, dispatch=dispatch, trace_url=trace_url)


# -- dead letters ----------------------------------------------------------------------------------

@router.get("/dead-letters")
async def dead_letters_page(request: Request, service: str = "", status: str = "parked", topic: str = "",
                            me: StaffMember = Depends(staff.viewer)):
    api = request.app.state.services_api
    names = [service] if service in api.services else list(api.services)
    answers = await asyncio.gather(*(api.dead_letters(n, status=status if status in ("parked", "replayed",
                                                                                      "discarded") else "all")
                                     for n in names), return_exceptions=True)
    letters, unreachable = [], []
    for name, answer in zip(names, answers):
        if isinstance(answer, Exception):
            unreachable.append(f"{name}: {getattr(answer, 'detail', repr(answer))}")
        else:
            letters.extend(a for a in answer if not topic or a.get("topic") == topic)
    letters.sort(key=lambda a: a.get("failed_at") or "", reverse=True)
    return render(request, "dead_letters.html", me, letters=letters, unreachable=unreachable, service=service,
                  status=status, topic=topic, services=list(api.services))


@router.get("/dead-letters/{service}/{dlq_topic}/{partition}/{offset}")
async def dead_letter_page(request: Request, service: str, dlq_topic: str, partition: int, offset: int,
                           me: StaffMember = Depends(staff.viewer)):
    letter = await request.app.state.services_api.dead_letter(service, dlq_topic, partition, offset)
    if letter is None:
        raise NotFound(f"{service} has no event parked at {dlq_topic}/{partition}/{offset}.")
    try:
        payload = json.dumps(json.loads(letter["payload"]), indent=2, ensure_ascii=False)
    except ValueError:
        payload = letter["payload"]
    return render(request, "dead_letter.html", me, letter=letter, payload=payload)


@router.post("/dead-letters/{service}/{dlq_topic}/{partition}/{offset}/{action}",
             dependencies=[Depends(staff.check_csrf)])
async def act_on_dead_letter(request: Request, service: str, dlq_topic: str, partition: int, offset: int,
                             action: str, reason: str = Form(""), me: StaffMember = Depends(staff.operator)):
    here = f"/dead-letters/{service}/{dlq_topic}/{partition}/{offset}"
    if action not in ("replay", "discard"):
        raise NotFound(f"There is no action {action!r}; replay or discard.")
    if len(reason.strip()) < 3:
        request.session["flash"] = {"kind": "error", "text": "Say why (at least a few words); the reason is kept."}
        return RedirectResponse(here, status_code=303)
    state = request.app.state
    try:
        result = await state.services_api.act_on_dead_letter(service, dlq_topic, partition, offset, action=action,
                                                             reason=reason.strip(), actor=me.username)
        outcome, text = result.get("outcome", result.get("status")), None
    except (ServiceRefused, ServiceUnavailable) as exc:
        outcome, text = "refused", exc.detail
    async with state.runtime.pool.acquire() as conn:
        await repository.record_action(conn, username=me.username, action=action, target=f"{service}:{here}",
                                       reason=reason.strip(), outcome=outcome, detail=text)
        if text is None:
            await repository.set_dead_letter_status(conn, dlq_topic=dlq_topic, partition=partition, offset=offset,
                                                    status="discarded" if action == "discard" else "replayed")
    if text is None:
        done = "discarded" if action == "discard" else f"replayed ({outcome.replace('_', ' ')})"
        request.session["flash"] = {"kind": "ok", "text": f"The event was {done} by {service}."}
    else:
        request.session["flash"] = {"kind": "error", "text": f"Nothing changed: {text}"}
    return RedirectResponse(here, status_code=303)


# -- reconciliation ---------------------------------------------------------------------------------

def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/reconciliation")
async def reconciliation_page(request: Request, hauler: str = "", since: str = "", until: str = "",
                              me: StaffMember = Depends(staff.viewer)):
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await repository.discrepancies(conn, hauler_id=hauler or None, since=_day(since), until=_day(until))
    by_day: dict[tuple, list] = {}
    for row in rows:
        by_day.setdefault((row["day"], row["hauler_id"]), []).append(row)
    return render(request, "reconciliation.html", me, groups=by_day, hauler=hauler, since=since, until=until)


# -- KPIs -----------------------------------------------------------------------------------------

def _month(value: str) -> str:
    try:
        year, month = (int(x) for x in value.split("-"))
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else ""
    except ValueError:
        return ""


async def month_kpis(request: Request, month: str) -> list[kpi_rules.Kpis]:
    state = request.app.state
    first, last = kpi_rules.month_bounds(month)
    async with state.runtime.pool.acquire() as conn:
        rows = await repository.kpi_bookings(conn, first_day=first, last_day=last)
    return kpi_rules.compute(rows, month=month, today=state.today(), costs=state.costs, city=state.city)


@router.get("/kpis")
async def kpis_page(request: Request, month: str = "", me: StaffMember = Depends(staff.viewer)):
    state = request.app.state
    month = _month(month) or state.today().strftime("%Y-%m")
    async with state.runtime.pool.acquire() as conn:
        months = [m.strftime("%Y-%m") for m in await repository.pickup_months(conn)]
    figures = await month_kpis(request, month)
    return render(request, "kpis.html", me, month=month, months=sorted(set(months) | {month}, reverse=True),
                  kpis=figures, goal=state.runtime.settings.on_time_goal, costs=state.costs)


@router.get("/kpis.csv")
async def kpis_csv(request: Request, month: str = "", me: StaffMember = Depends(staff.viewer)):
    month = _month(month) or request.app.state.today().strftime("%Y-%m")
    body = kpi_rules.to_csv(await month_kpis(request, month))
    return PlainTextResponse(body, media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": f'attachment; filename="haulbridge-kpis-{month}.csv"'})


# -- staff accounts ---------------------------------------------------------------------------------

@router.get("/staff")
async def staff_page(request: Request, me: StaffMember = Depends(staff.admin)):
    async with request.app.state.runtime.pool.acquire() as conn:
        members = await repository.all_staff(conn)
        actions = await repository.recent_actions(conn)
    return render(request, "staff.html", me, members=members, actions=actions, roles=staff.ROLES)


@router.post("/staff", dependencies=[Depends(staff.check_csrf)])
async def staff_save(request: Request, username: str = Form(""), display_name: str = Form(""),
                     role: str = Form("viewer"), password: str = Form(""), me: StaffMember = Depends(staff.admin)):
    pool = request.app.state.runtime.pool
    try:
        if not username.strip() or not display_name.strip():
            raise ValueError("a username and a name are needed")
        await staff.create(pool, username=username, display_name=display_name.strip(), role=role, password=password)
    except ValueError as exc:
        request.session["flash"] = {"kind": "error", "text": f"Not saved: {exc}."}
        return RedirectResponse("/staff", status_code=303)
    async with pool.acquire() as conn:
        await repository.record_action(conn, username=me.username, action="staff_saved",
                                       target=username.strip().lower(), outcome=role)
    request.session["flash"] = {"kind": "ok", "text": f"{username.strip().lower()} can sign in as {role}."}
    return RedirectResponse("/staff", status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}, quote_via=quote), status_code=303)


def problem_page(request: Request, problem: Problem) -> Response | None:
    """An HTML page for a browser; None for API clients, who get problem details."""
    if "text/html" not in request.headers.get("accept", "") and "hx-request" not in request.headers:
        return None
    return render(request, "error.html", None, status_code=problem.status, problem=problem)
