"""One-click unsubscribe from a booking's emails (``List-Unsubscribe``, RFC 2369 and RFC 8058).

Every email carries ``List-Unsubscribe: <{public_base_url}/v1/unsubscribe/{token}>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; the token is the booking id signed with
``NOTIFY_UNSUBSCRIBE_SECRET``. Mail clients POST to it; a GET (a resident following the link) does
the same. The resident's later messages by email are then recorded ``not_sent`` with the reason;
messages by other chosen channels still go.
"""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from itsdangerous import BadSignature, URLSafeSerializer

from haulbridge_runtime.problems import NotFound, Problem, problem_responses

from . import repository
from .settings import NotifySettings

_SALT = "haulbridge.notify.unsubscribe"


class UnsubscribeLinkInvalid(Problem):
    status, slug, title = 404, "unsubscribe-link-invalid", "Unsubscribe link not valid"


def link(booking_id: uuid.UUID, settings: NotifySettings) -> str:
    token = URLSafeSerializer(settings.unsubscribe_secret.get_secret_value(), salt=_SALT).dumps(str(booking_id))
    return f"{settings.public_base_url}/v1/unsubscribe/{token}"


router = APIRouter(prefix="/v1/unsubscribe", tags=["unsubscribe"])


async def _unsubscribe(token: str, request: Request) -> dict:
    settings: NotifySettings = request.app.state.settings
    try:
        booking_id = uuid.UUID(URLSafeSerializer(settings.unsubscribe_secret.get_secret_value(), salt=_SALT)
                               .loads(token))
    except (BadSignature, ValueError) as exc:
        raise UnsubscribeLinkInvalid("This unsubscribe link is not valid.") from exc
    async with request.app.state.runtime.pool.acquire() as conn:
        if not await repository.stop_channel(conn, booking_id=booking_id, channel="email"):
            raise NotFound("No messages are kept for this booking any more.")
    return {"unsubscribed": "email", "detail": "You will get no more emails about this booking."}


@router.post("/{token}", responses=problem_responses(404), summary="One-click unsubscribe (RFC 8058)")
async def unsubscribe_one_click(token: str, request: Request) -> dict:
    return await _unsubscribe(token, request)


@router.get("/{token}", responses=problem_responses(404), summary="Unsubscribe by following the link")
async def unsubscribe_by_link(token: str, request: Request) -> dict:
    return await _unsubscribe(token, request)
