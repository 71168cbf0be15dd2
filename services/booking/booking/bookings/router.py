"""The resident booking API: thin handlers over bookings.service."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Header, Request, Response

from haulbridge_runtime.problems import problem_responses

from ..places import service as places
from . import service
from .schemas import BookingRequest, BookingView

router = APIRouter(prefix="/v1", tags=["bookings"])


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingView,
    responses=problem_responses(400, 422),
    summary="Book a junk pickup",
)
async def create_booking(
    body: BookingRequest,
    request: Request,
    response: Response,
    traceparent: str | None = Header(default=None, include_in_schema=False),
    x_correlation_id: str | None = Header(default=None, include_in_schema=False),
) -> dict:
    pool = request.app.state.runtime.pool
    settings = request.app.state.settings
    async with pool.acquire() as conn:
        async with conn.transaction():
            booking_id = await service.create_booking(
                conn, request=body, settings=settings,
                correlation_id=_uuid_or_none(x_correlation_id), traceparent=traceparent,
            )
        view = await service.get_view(conn, key=str(booking_id))
    response.headers["Location"] = f"/v1/bookings/{booking_id}"
    return view


@router.get(
    "/bookings/{booking}",
    response_model=BookingView,
    responses=problem_responses(404),
    summary="A booking and its timeline, by id or reference",
)
async def get_booking(booking: str, request: Request) -> dict:
    async with request.app.state.runtime.pool.acquire() as conn:
        return await service.get_view(conn, key=booking)


@router.get(
    "/service-lookup",
    responses=problem_responses(422),
    summary="Who serves an address: zone, hauler and collection day",
)
async def service_lookup(address: str, request: Request) -> dict:
    async with request.app.state.runtime.pool.acquire() as conn:
        point = await places.resolve(conn, address=address)
    return {
        "address": point.address,
        "zone": {"id": point.zone_id, "name": point.zone_name, "collection_day": point.collection_day},
        "hauler": {"id": point.hauler_id, "name": point.hauler_name},
        "location": {"latitude": point.latitude, "longitude": point.longitude},
    }


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None
