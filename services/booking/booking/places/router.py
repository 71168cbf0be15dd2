"""Address type-ahead and "who serves my address"."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from haulbridge_runtime.problems import problem_responses

from . import repository, service

router = APIRouter(prefix="/v1", tags=["addresses"])


class AddressMatch(BaseModel):
    address: str
    eligible: bool


class ServiceLookup(BaseModel):
    address: str
    eligible: bool
    land_use: str
    zone: dict
    hauler: dict
    location: dict


@router.get("/addresses", response_model=list[AddressMatch], summary="Type-ahead over the city's addresses")
async def addresses(request: Request, q: str = Query(min_length=2, max_length=200)) -> list[dict]:
    eligible = set(request.state.rules.eligible_land_uses)
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await repository.search_addresses(conn, q, limit=10)
    return [{"address": r["address"], "eligible": r["land_use"] in eligible and r["zone_id"] is not None}
            for r in rows]


@router.get("/service-lookup", response_model=ServiceLookup, responses=problem_responses(422),
            summary="Who serves an address: zone, hauler, collection day and eligibility")
async def service_lookup(request: Request, address: str = Query(min_length=3, max_length=200)) -> dict:
    async with request.app.state.runtime.pool.acquire() as conn:
        point = await service.resolve(conn, address=address)
    return {
        "address": point.address,
        "eligible": point.land_use in request.state.rules.eligible_land_uses,
        "land_use": point.land_use,
        "zone": {"id": point.zone_id, "name": point.zone_name, "collection_day": point.collection_day},
        "hauler": {"id": point.hauler_id, "name": point.hauler_name},
        "location": {"latitude": point.latitude, "longitude": point.longitude},
    }
