"""Calls to haulers and dispatches, for operators and the operations console
(``Authorization: Bearer <ADAPTERS_OPERATOR_TOKEN>``).

    GET /admin/v1/vendor-calls?booking_id=                 one booking's calls to its hauler, oldest first
    GET /admin/v1/vendor-calls?hauler_id=&since=&limit=    a hauler's (or every hauler's) calls, oldest first
    GET /admin/v1/dispatches/{booking_id}                  the booking's dispatch and its calls
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from haulbridge_runtime.operators import require_operator
from haulbridge_runtime.problems import NotFound, problem_responses

from . import repository

router = APIRouter(prefix="/admin/v1", tags=["vendor calls"], dependencies=[Depends(require_operator)],
                   responses=problem_responses(401))


class VendorCallOut(BaseModel):
    id: int
    hauler_id: str
    booking_id: UUID | None = Field(description="None when the hauler's job number matched no dispatch")
    external_ref: str | None = Field(description="The hauler's job number")
    operation: str = Field(description="dispatch, status, cancel or reschedule")
    outcome: str = Field(description="ok, refused, unavailable, circuit_open or error")
    detail: str | None = Field(description="The hauler's words or the error (truncated)")
    duration_ms: int | None = Field(description="Retries included; None when not called (circuit open)")
    at: datetime = Field(description="When the call was asked for")


class DispatchOut(BaseModel):
    booking_id: UUID
    reference: str
    hauler_id: str
    pickup_date: date
    status: str = Field(description="sending, queued, accepted, confirmed, completed, missed, cancelled, "
                                    "rejected or failed")
    external_ref: str | None
    attempts: int
    last_error: str | None
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    vendor_calls: list[VendorCallOut] = Field(description="The latest 1000 at most, oldest first")


@router.get("/vendor-calls", summary="Calls to haulers, oldest first")
async def list_vendor_calls(request: Request, booking_id: UUID | None = None, hauler_id: str | None = None,
                            since: datetime | None = Query(None, description="From this time on (UTC when no "
                                                           "offset); without it, the latest calls"),
                            limit: int = Query(100, ge=1, le=1000)) -> list[VendorCallOut]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await repository.vendor_calls(conn, booking_id=booking_id, hauler_id=hauler_id, since=since,
                                             limit=limit)
    return [VendorCallOut(**r) for r in rows]


@router.get("/dispatches/{booking_id}", responses=problem_responses(404),
            summary="A booking's dispatch to its hauler, with its calls")
async def get_dispatch(booking_id: UUID, request: Request) -> DispatchOut:
    async with request.app.state.runtime.pool.acquire() as conn:
        dispatch = await repository.dispatch_of_booking(conn, booking_id)
        calls = await repository.vendor_calls(conn, booking_id=booking_id, limit=1000) if dispatch else []
    if dispatch is None:
        raise NotFound(f"No dispatch for booking '{booking_id}'.")
    return DispatchOut(**dispatch, vendor_calls=[VendorCallOut(**r) for r in calls])
