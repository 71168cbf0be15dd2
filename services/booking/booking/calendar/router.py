"""Free dates and holds: thin handlers over calendar.service."""
from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from haulbridge_runtime.problems import problem_responses

from ..places import service as places
from . import service

router = APIRouter(prefix="/v1", tags=["availability"])


class FreeDate(BaseModel):
    date: date
    remaining: int = Field(description="Pickups still free that day")


class Availability(BaseModel):
    address: str
    zone: str
    hauler: str
    earliest: date
    latest: date
    dates: list[FreeDate]


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=200)
    date: date


class Hold(BaseModel):
    id: UUID
    date: date
    expires_at: datetime


@router.get("/availability", response_model=Availability, responses=problem_responses(422),
            summary="Dates with free pickups for an address")
async def availability(request: Request, address: str = Query(min_length=3, max_length=200),
                       from_: date | None = Query(default=None, alias="from"),
                       to: date | None = None) -> dict:
    settings = request.state.rules
    async with request.app.state.runtime.pool.acquire() as conn:
        point = await places.resolve(conn, address=address)
        window = await service.bookable_window(conn, settings=settings)
        dates = await service.availability(conn, zone_id=point.zone_id, first=from_, last=to, settings=settings)
    return {"address": point.address, "zone": point.zone_name, "hauler": point.hauler_name,
            "earliest": window.earliest, "latest": window.latest, "dates": dates}


@router.post("/holds", status_code=201, response_model=Hold, responses=problem_responses(409, 422),
             summary="Reserve a date for a few minutes while the resident finishes booking")
async def place_hold(body: HoldRequest, request: Request) -> dict:
    settings = request.state.rules
    async with request.app.state.runtime.pool.acquire() as conn:
        async with conn.transaction():
            point = await places.resolve(conn, address=body.address)
            return await service.place_hold(conn, zone_id=point.zone_id, address_id=point.address_id,
                                            day=body.date, settings=settings)
