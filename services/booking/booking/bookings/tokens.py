"""Signed manage tokens: residents manage a booking without an account.

The token is an HMAC-signed booking id (itsdangerous); it is carried in the
manage link in every message and presented as ``?token=`` or the
``X-Manage-Token`` header.
"""
from __future__ import annotations

import uuid

from itsdangerous import BadSignature, URLSafeSerializer

from ..errors import ManageTokenInvalid

_SALT = "haulbridge.booking.manage"


def issue(booking_id: uuid.UUID, *, secret: str) -> str:
    return URLSafeSerializer(secret, salt=_SALT).dumps(str(booking_id))


def verify(token: str | None, booking_id: uuid.UUID, *, secret: str) -> None:
    if not token:
        raise ManageTokenInvalid("This booking can only be seen or changed with the link from your messages.")
    try:
        signed_for = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature as exc:
        raise ManageTokenInvalid("The manage link is not valid for this booking.") from exc
    if signed_for != str(booking_id):
        raise ManageTokenInvalid("The manage link is not valid for this booking.")
