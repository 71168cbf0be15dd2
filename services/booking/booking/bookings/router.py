"""The resident booking API: thin handlers over bookings.service."""
from __future__ import annotations

import uuid

import asyncpg
from fastapi import APIRouter, Header, Query, Request, Response

from haulbridge_runtime.problems import problem_responses

from . import service
from .schemas import BookingRequest, BookingView, CancelRequest, FeedbackRequest, MissedReport, RescheduleRequest

router = APIRouter(prefix="/v1", tags=["bookings"])

ManageToken = Query(default=None, description="The token from the booking's manage link")


def _token(query_token: str | None, header_token: str | None) -> str | None:
    return header_token or query_token


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingView,
    responses=problem_responses(400, 409, 422),
    summary="Book a junk pickup",
)
async def create_booking(
    body: BookingRequest,
    request: Request,
    response: Response,
    idempotency_key: str | None = Header(default=None, max_length=200,
                                         description="Same key and body → same booking; another body → 422"),
    traceparent: str | None = Header(default=None, include_in_schema=False),
    x_correlation_id: str | None = Header(default=None, include_in_schema=False),
) -> dict:
    pool = request.app.state.runtime.pool
    settings = request.state.rules
    async with pool.acquire() as conn:
        booking_id = await service.find_idempotent(conn, key=idempotency_key, request=body) if idempotency_key else None
        if booking_id is None:
            try:
                async with conn.transaction():
                    view = await service.create_booking(
                        conn, request=body, settings=settings, idempotency_key=idempotency_key,
                        correlation_id=_uuid_or_none(x_correlation_id), traceparent=traceparent,
                    )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "idempotency_keys_pkey":
                    raise
                # A concurrent request with the same key won; answer with its booking.
                booking_id = await service.find_idempotent(conn, key=idempotency_key, request=body)
        if booking_id is not None:  # a retry: the booking as it is now
            view = await service.get_view(conn, booking_id=booking_id, settings=settings)
    response.headers["Location"] = f"/v1/bookings/{view['reference']}"
    return view


@router.get("/bookings/{booking}", response_model=BookingView, responses=problem_responses(403, 404),
            summary="A booking and its timeline, by reference or id, with its manage token")
async def get_booking(booking: str, request: Request, token: str | None = ManageToken,
                      x_manage_token: str | None = Header(default=None)) -> dict:
    async with request.app.state.runtime.pool.acquire() as conn:
        return await service.get_managed_view(conn, key=booking, token=_token(token, x_manage_token),
                                              settings=request.state.rules)


async def _change(request: Request, action, **kwargs) -> dict:
    settings = request.state.rules
    async with request.app.state.runtime.pool.acquire() as conn:
        async with conn.transaction():
            booking_id = await action(conn, settings=settings, **kwargs)
        return await service.get_view(conn, booking_id=booking_id, settings=settings)


@router.post("/bookings/{booking}/cancel", response_model=BookingView, responses=problem_responses(403, 404, 409),
             summary="Cancel until the cut-off; capacity and quota are returned")
async def cancel_booking(booking: str, request: Request, body: CancelRequest | None = None,
                         token: str | None = ManageToken, x_manage_token: str | None = Header(default=None)) -> dict:
    return await _change(request, service.cancel, key=booking, token=_token(token, x_manage_token),
                         reason=body.reason if body else None)


@router.post("/bookings/{booking}/reschedule", response_model=BookingView,
             responses=problem_responses(403, 404, 409, 422), summary="Move the pickup to another free date")
async def reschedule_booking(booking: str, body: RescheduleRequest, request: Request,
                             token: str | None = ManageToken, x_manage_token: str | None = Header(default=None)) -> dict:
    return await _change(request, service.reschedule, key=booking, token=_token(token, x_manage_token),
                         pickup_date=body.pickup_date, hold_id=body.hold_id)


@router.post("/bookings/{booking}/feedback", response_model=BookingView, responses=problem_responses(403, 404, 409),
             summary="Rate a completed pickup, once")
async def rate_booking(booking: str, body: FeedbackRequest, request: Request,
                       token: str | None = ManageToken, x_manage_token: str | None = Header(default=None)) -> dict:
    return await _change(request, service.give_feedback, key=booking, token=_token(token, x_manage_token),
                         rating=body.rating, comment=body.comment)


@router.post("/bookings/{booking}/missed-report", response_model=BookingView,
             responses=problem_responses(403, 404, 409), summary="Report that the pickup did not happen")
async def report_missed(booking: str, request: Request, body: MissedReport | None = None,
                        token: str | None = ManageToken, x_manage_token: str | None = Header(default=None)) -> dict:
    return await _change(request, service.report_missed, key=booking, token=_token(token, x_manage_token),
                         details=body.details if body else None)


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value)) if value else None
    except ValueError:
        return None
