"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): services, requests, request status.

A junk pickup is the service ``junk-pickup``; a service request is a booking
(its ``service_request_id`` is the booking reference, its channel ``open311``).
Requests carry residents' addresses, so reading them also needs the client's
``api_key`` (a front-end key), not only submitting them. Errors use GeoReport's own format — a list of ``{code, description}`` — which
is what 311 clients parse; everywhere else Haulbridge answers RFC 9457.
"""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from haulbridge_runtime.problems import Problem, from_database_error

from .. import city_rules, clients
from ..bookings import repository as bookings_repository
from ..bookings import service as bookings
from ..bookings.schemas import BookingRequest
from ..catalogue import repository as catalogue
from ..lifecycle import Status

router = APIRouter(prefix="/open311/v2", tags=["open311"])

SERVICE_CODE = "junk-pickup"
CLOSED = {Status.COMPLETED, Status.CANCELLED, Status.REJECTED}
STATUS_NOTES = {
    Status.REQUESTED: "Received; being sent to the hauler.",
    Status.DISPATCHED: "Sent to the hauler; waiting for confirmation.",
    Status.DISPATCH_FAILED: "Could not reach the hauler yet; the city is following up.",
    Status.CONFIRMED: "Confirmed by the hauler.",
    Status.COMPLETED: "Pickup done.",
    Status.REJECTED: "The hauler could not take this pickup.",
    Status.MISSED: "Reported missed; the city is arranging a new pickup.",
    Status.CANCELLED: "Cancelled.",
}


async def _client(request: Request, api_key) -> clients.Client | None:
    async with request.app.state.runtime.pool.acquire() as conn:
        client = await clients.find(conn, str(api_key or ""))
    return client if client is not None and client.kind == "frontend" else None


def _errors(status: int, *descriptions: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": d} for d in descriptions], status_code=status)


_GEOREPORT_ERRORS = {"content": {"application/json": {"schema": {"type": "array", "items": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}}}}
_MEANING = {400: "Invalid request", 403: "Missing or unknown api_key", 404: "No such service or request",
            409: "The date is no longer free, or the household has used its quota",
            422: "The request breaks one of the city's rules"}


def georeport_errors(*statuses: int) -> dict[int, dict]:
    """OpenAPI for GeoReport v2 errors: a list of ``{code, description}``."""
    return {s: {"description": f"{_MEANING[s]} (GeoReport v2 errors)", **_GEOREPORT_ERRORS} for s in statuses}


@router.get("/services.json", summary="GeoReport v2: the services offered")
async def services() -> list[dict]:
    return [{
        "service_code": SERVICE_CODE, "service_name": "Junk pickup",
        "description": "Free collection of bulky items (furniture, appliances, electronics) from your curb.",
        "metadata": True, "type": "batch", "keywords": "junk, bulky, furniture, appliance, pickup",
        "group": "Garbage and recycling",
    }]


@router.get("/services/{service_code}.json", responses=georeport_errors(404), summary="GeoReport v2: a service's attributes")
async def service_definition(service_code: str, request: Request):
    if service_code != SERVICE_CODE:
        return _errors(404, f"No service '{service_code}'.")
    async with request.app.state.runtime.pool.acquire() as conn:
        items = [r for r in await catalogue.all_items(conn) if r["accepted"]]
    return {"service_code": SERVICE_CODE, "attributes": [
        {"variable": True, "code": "pickup_date", "datatype": "datetime", "required": True, "order": 1,
         "datatype_description": "YYYY-MM-DD, a date from the booking API's availability",
         "description": "Pickup date"},
        {"variable": True, "code": "items", "datatype": "multivaluelist", "required": True, "order": 2,
         "datatype_description": "One value per item put out", "description": "Items",
         "values": [{"key": r["code"], "name": r["label_en"]} for r in items]},
    ]}


@router.post("/requests.json", responses=georeport_errors(400, 403, 404, 409, 422), summary="GeoReport v2: book a junk pickup")
async def create_request(request: Request):
    form = await request.form()
    if await _client(request, form.get("api_key")) is None:
        return _errors(403, "A valid api_key is required to submit service requests.")
    if form.get("service_code") != SERVICE_CODE:
        return _errors(404, f"No service '{form.get('service_code')}'.")
    name = " ".join(p for p in (form.get("first_name"), form.get("last_name")) if p) or "311 caller"
    items = form.getlist("attribute[items][]") or form.getlist("attribute[items]")
    try:
        body = BookingRequest(
            address=str(form.get("address_string") or ""),
            pickup_date=str(form.get("attribute[pickup_date]") or "")[:10],
            items=[{"item": code, "quantity": 1} for code in items],
            contact={"name": name, "email": form.get("email") or None, "phone": form.get("phone") or None,
                     "channels": [c for c, v in (("email", form.get("email")), ("sms", form.get("phone"))) if v]},
            channel="open311",
            notes=form.get("description") or None,
        )
    except ValidationError as exc:
        return _errors(400, *(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()))
    try:
        async with request.app.state.runtime.pool.acquire() as conn:
            settings = await city_rules.effective(conn, request.app.state.settings)
            async with conn.transaction():
                booking = await bookings.create_booking(conn, request=body, settings=settings)
    except Problem as problem:
        return _errors(problem.status if problem.status in (404, 409, 422) else 400, problem.detail)
    except Exception as exc:  # a value PostgreSQL refuses (NUL in text...): the booking was not stored
        problem = from_database_error(exc)
        if problem is None:
            raise
        return _errors(problem.status, problem.detail)
    return [{"service_request_id": booking["reference"], "account_id": None,
             "service_notice": f"Junk pickup booked for {booking['pickup_date'].isoformat()}. "
                               "The resident will be told when the hauler confirms."}]


def _as_georeport(row) -> dict:
    status = Status(row["status"])
    return {
        "service_request_id": row["reference"], "status": "closed" if status in CLOSED else "open",
        "status_notes": STATUS_NOTES[status], "service_name": "Junk pickup", "service_code": SERVICE_CODE,
        "description": row["notes"], "agency_responsible": row["hauler_name"], "service_notice": None,
        "requested_datetime": row["created_at"].isoformat(), "updated_datetime": row["updated_at"].isoformat(),
        "expected_datetime": row["target_date"].isoformat(), "address": row["address"], "address_id": None,
        "zipcode": None, "lat": row["latitude"], "long": row["longitude"], "media_url": None,
    }


@router.get("/requests/{service_request_id}.json", responses=georeport_errors(403, 404), summary="GeoReport v2: one service request")
async def get_request(service_request_id: str, request: Request, api_key: str | None = None):
    if await _client(request, api_key) is None:
        return _errors(403, "A valid api_key is required to read service requests.")
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await bookings_repository.open311_requests(conn, references=[service_request_id.upper()])
    if not rows:
        return _errors(404, f"No service request '{service_request_id}'.")
    return [_as_georeport(rows[0])]


@router.get("/requests.json", responses=georeport_errors(400, 403), summary="GeoReport v2: service requests by id, date or status")
async def list_requests(request: Request, service_request_id: str | None = None, service_code: str | None = None,
                        start_date: str | None = None, end_date: str | None = None, status: str | None = None,
                        api_key: str | None = None):
    if await _client(request, api_key) is None:
        return _errors(403, "A valid api_key is required to read service requests.")
    if service_code not in (None, SERVICE_CODE):
        return []
    try:
        start = date.fromisoformat(start_date[:10]) if start_date else None
        end = date.fromisoformat(end_date[:10]) if end_date else None
    except ValueError:
        return _errors(400, "start_date and end_date are W3C dates, e.g. 2026-12-01T00:00:00Z.")
    if status not in (None, "open", "closed"):
        return _errors(400, "status is 'open' or 'closed'.")
    references = [r.strip().upper() for r in service_request_id.split(",")] if service_request_id else None
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await bookings_repository.open311_requests(conn, references=references, start=start, end=end)
    found = [_as_georeport(r) for r in rows]
    return [r for r in found if status is None or r["status"] == status]
