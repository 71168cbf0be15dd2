"""/admin/v1: the staff and admin API. Thin handlers; every change is audited in its own transaction."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from haulbridge_runtime.problems import NotFound, Problem, problem_responses

from .. import city_rules, clients
from ..bookings import service as bookings
from ..calendar import rules as date_rules
from ..catalogue import repository as catalogue_repository
from ..places import repository as places_repository
from ..lifecycle import Status
from . import repository

router = APIRouter(prefix="/admin/v1", tags=["staff"], responses=problem_responses(401, 403))
Staff = Annotated[clients.Client, Depends(clients.staff)]


class CapacityWouldOverbook(Problem):
    status, slug, title = 409, "capacity-below-bookings", "Capacity below what is already booked"


class StatusCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: str = Field(min_length=3, max_length=500)


class CapacityRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_date: date = Field(alias="from")
    to_date: date = Field(alias="to")
    pickups: int = Field(ge=0, le=10000)
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default=[0, 1, 2, 3, 4], min_length=1, max_length=7,
                                                             description="0 = Monday ... 6 = Sunday")

    @model_validator(mode="after")
    def _a_range_of_at_most_a_year(self) -> "CapacityRange":
        if self.to_date < self.from_date or (self.to_date - self.from_date).days > 366:
            raise ValueError("'to' must be on or after 'from', at most a year later")
        return self


class BlackoutDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zone_id: str | None = Field(default=None, description="None: a city holiday for every zone")
    date: date
    reason: str = Field(min_length=3, max_length=200)


class ZoneChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    hauler_id: str | None = None
    collection_day: str | None = None


class ItemChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    label_en: str | None = None
    label_es: str | None = None
    label_vi: str | None = None
    accepted: bool | None = None
    max_per_booking: int | None = Field(default=None, ge=1, le=50)
    alternative: str | None = None


class HaulerDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=120)
    vendor_kind: str = Field(pattern="^(json_api|soap|email|batch_files|declarative_json)$")
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)


class NewItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=2, max_length=40)
    label_en: str = Field(min_length=2, max_length=120)
    label_es: str = Field(min_length=2, max_length=120)
    label_vi: str = Field(min_length=2, max_length=120)
    accepted: bool
    max_per_booking: int | None = Field(default=None, ge=1, le=50)
    alternative: str | None = Field(default=None, max_length=300)


class NewClient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=80)
    kind: str = Field(pattern="^(frontend|staff)$")
    role: str = Field(default="client", pattern="^(client|viewer|agent|operator|admin)$")
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=100000)

    @model_validator(mode="after")
    def _staff_keys_have_a_staff_role(self) -> "NewClient":
        if self.kind == "staff" and self.role not in clients.STAFF_ROLES:
            raise ValueError(f"a staff key needs one of the roles {', '.join(clients.STAFF_ROLES)}")
        return self


def _pool(request: Request):
    return request.app.state.runtime.pool


async def _audited(request: Request, who: clients.Client, action: str, target: str, detail: dict, work):
    async with _pool(request).acquire() as conn:
        async with conn.transaction():
            result = await work(conn)
            await repository.audit(conn, actor=who.name, role=who.role, action=action, target=target,
                                   detail=detail)
    return result


# -- bookings (call-centre agents and operations) ---------------------------------------------------------

@router.get("/bookings", summary="Search bookings by reference, address, phone, email, status or date")
async def search(request: Request, who: Staff, reference: str | None = None, address: str | None = None,
                 phone: str | None = None, email: str | None = None, status: Status | None = None,
                 pickup_date: date | None = None, limit: int = Query(default=50, ge=1, le=500)) -> list[dict]:
    clients.require_role(who, "agent")
    async with _pool(request).acquire() as conn:
        return await repository.search_bookings(conn, reference=reference, address=address, phone=phone,
                                                email=email, status=status, pickup_date=pickup_date, limit=limit)


@router.get("/bookings/{booking}", responses=problem_responses(404), summary="A booking with its contact details")
async def booking(booking: str, request: Request, who: Staff) -> dict:
    clients.require_role(who, "agent")
    async with _pool(request).acquire() as conn:
        return await bookings.get_staff_view(conn, key=booking, settings=request.app.state.settings)


@router.post("/bookings/{booking}/status", responses=problem_responses(404, 409, 422),
             summary="Correct a booking's status by hand, with a reason")
async def correct_status(booking: str, body: StatusCorrection, request: Request, who: Staff) -> dict:
    clients.require_role(who, "operator")
    settings = request.app.state.settings

    async def work(conn):
        effective = await city_rules.effective(conn, settings)
        booking_id = await bookings.correct_status(conn, key=booking, target=body.status, reason=body.reason,
                                                   actor=who.name, settings=effective)
        return booking_id

    booking_id = await _audited(request, who, "booking.status_corrected", booking,
                                {"status": body.status, "reason": body.reason}, work)
    async with _pool(request).acquire() as conn:
        return await bookings.get_staff_view(conn, key=str(booking_id), settings=settings)


# -- the city's configuration ---------------------------------------------------------------------------

@router.get("/rules", summary="The city's booking rules in force")
async def get_rules(request: Request, who: Staff) -> dict:
    clients.require_role(who, "viewer")
    async with _pool(request).acquire() as conn:
        return city_rules.as_dict(await city_rules.effective(conn, request.app.state.settings))


@router.patch("/rules", summary="Change item limits, quota, lead time, horizon, cut-offs")
async def change_rules(body: city_rules.RuleChanges, request: Request, who: Staff) -> dict:
    clients.require_role(who, "admin")
    changes = body.model_dump(exclude_none=True)
    await _audited(request, who, "rules.changed", "city_rules", changes,
                   lambda conn: city_rules.change(conn, body, actor=who.name))
    request.app.state.city_rules.forget()  # this replica's next request, even before the NOTIFY arrives
    async with _pool(request).acquire() as conn:
        return city_rules.as_dict(await city_rules.effective(conn, request.app.state.settings))


@router.get("/haulers", summary="Haulers")
async def list_haulers(request: Request, who: Staff) -> list[dict]:
    clients.require_role(who, "viewer")
    async with _pool(request).acquire() as conn:
        return await repository.haulers(conn)


@router.put("/haulers/{hauler_id}", summary="Add a hauler or change its details")
async def put_hauler(hauler_id: str, body: HaulerDetails, request: Request, who: Staff) -> dict:
    clients.require_role(who, "admin")
    row = {"id": hauler_id, **body.model_dump()}
    await _audited(request, who, "hauler.saved", hauler_id, body.model_dump(),
                   lambda conn: places_repository.upsert_hauler(conn, row))
    return row


@router.get("/zones", summary="Service zones, their hauler and weekday capacity")
async def list_zones(request: Request, who: Staff) -> list[dict]:
    clients.require_role(who, "viewer")
    async with _pool(request).acquire() as conn:
        return await repository.zones(conn)


@router.patch("/zones/{zone_id}", responses=problem_responses(404, 422), summary="Change a zone's hauler or name")
async def change_zone(zone_id: str, body: ZoneChange, request: Request, who: Staff) -> dict:
    clients.require_role(who, "admin")

    async def work(conn):
        if not await repository.update_zone(conn, zone_id, **body.model_dump()):
            raise NotFound(f"No zone '{zone_id}'.")

    await _audited(request, who, "zone.changed", zone_id, body.model_dump(exclude_none=True), work)
    return {"zone_id": zone_id, **body.model_dump(exclude_none=True)}


@router.put("/zones/{zone_id}/capacity", responses=problem_responses(404, 409, 422),
            summary="Set the pickups per day for a range of days at once")
async def set_capacity(zone_id: str, body: CapacityRange, request: Request, who: Staff) -> dict:
    clients.require_role(who, "operator")
    days = [d for d in date_rules.days_between(body.from_date, body.to_date) if d.weekday() in body.weekdays]

    async def work(conn):
        if not await conn.fetchval("SELECT true FROM zones WHERE id = $1", zone_id):
            raise NotFound(f"No zone '{zone_id}'.")
        too_low = await repository.overbooked_days(conn, zone_id, days, body.pickups)
        if too_low:
            raise CapacityWouldOverbook("Some days already have more bookings than that; move or cancel them "
                                        "first.", days=too_low)
        await repository.set_capacity_range(conn, zone_id, days, body.pickups)

    detail = {"from": body.from_date.isoformat(), "to": body.to_date.isoformat(), "pickups": body.pickups,
              "weekdays": body.weekdays}
    await _audited(request, who, "capacity.set", zone_id, detail, work)
    return {"zone_id": zone_id, "days_set": len(days), **detail}


@router.get("/blackout-days", summary="Holidays and hauler blackout days")
async def list_blackouts(request: Request, who: Staff) -> list[dict]:
    clients.require_role(who, "viewer")
    async with _pool(request).acquire() as conn:
        return await repository.blackouts(conn)


@router.post("/blackout-days", status_code=201, summary="Add a holiday or a zone's blackout day")
async def add_blackout(body: BlackoutDay, request: Request, who: Staff) -> dict:
    clients.require_role(who, "operator")
    blackout_id = await _audited(
        request, who, "blackout.added", body.zone_id or "city", body.model_dump(mode="json"),
        lambda conn: repository.add_blackout(conn, zone_id=body.zone_id, day=body.date, reason=body.reason))
    return {"id": blackout_id, **body.model_dump(mode="json")}


@router.delete("/blackout-days/{blackout_id}", status_code=204, responses=problem_responses(404))
async def remove_blackout(blackout_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, who: Staff) -> None:
    clients.require_role(who, "operator")

    async def work(conn):
        if not await repository.remove_blackout(conn, blackout_id):
            raise NotFound(f"No blackout day {blackout_id}.")

    await _audited(request, who, "blackout.removed", str(blackout_id), {}, work)


@router.put("/items/{code}", summary="Add an item to the catalogue or replace it")
async def put_item(code: str, body: NewItem, request: Request, who: Staff) -> dict:
    clients.require_role(who, "admin")
    row = (code, body.category, body.label_en, body.label_es, body.label_vi, body.accepted, body.max_per_booking,
           body.alternative)
    await _audited(request, who, "item.saved", code, body.model_dump(),
                   lambda conn: catalogue_repository.upsert_items(conn, [row]))
    return {"code": code, **body.model_dump()}


@router.patch("/items/{code}", responses=problem_responses(404), summary="Change an item's labels, limit or status")
async def change_item(code: str, body: ItemChange, request: Request, who: Staff) -> dict:
    clients.require_role(who, "admin")
    changes = body.model_dump(exclude_none=True)

    async def work(conn):
        if not await repository.update_item(conn, code, changes):
            raise NotFound(f"No item '{code}'.")

    await _audited(request, who, "item.changed", code, changes, work)
    return {"code": code, **changes}


@router.get("/clients", summary="API clients (front ends and staff)")
async def list_clients(request: Request, who: Staff) -> list[dict]:
    clients.require_role(who, "admin")
    async with _pool(request).acquire() as conn:
        return await clients.list_all(conn)


@router.post("/clients", status_code=201, responses=problem_responses(409), summary="Create a key for a front end or a staff member (shown once)")
async def create_client(body: NewClient, request: Request, who: Staff) -> dict:
    clients.require_role(who, "admin")

    async def work(conn):
        return await clients.create(conn, name=body.name, kind=body.kind, role=body.role,
                                    rate_limit_per_minute=body.rate_limit_per_minute)

    client, key = await _audited(request, who, "client.created", body.name, body.model_dump(), work)
    return {"id": client.id, "name": client.name, "kind": client.kind, "role": client.role, "key": key}


@router.get("/audit", summary="The audit log, newest first")
async def audit(request: Request, who: Staff, limit: int = Query(default=100, ge=1, le=1000)) -> list[dict]:
    clients.require_role(who, "admin")
    async with _pool(request).acquire() as conn:
        return await repository.audit_entries(conn, limit)
