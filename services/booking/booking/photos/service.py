"""Photo checks and storage. The caller owns the transaction."""
from __future__ import annotations

import uuid

import asyncpg
from itsdangerous import BadSignature, URLSafeSerializer

from haulbridge_runtime.problems import NotFound, Problem

from ..settings import BookingSettings

_SALT = "haulbridge.booking.photo"

# The first bytes of each accepted image type.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class PhotoNotAccepted(Problem):
    status, slug, title = 422, "photo-not-accepted", "Photo not accepted"


class PhotoTooLarge(Problem):
    status, slug, title = 413, "photo-too-large", "Photo too large"


def sniff(data: bytes) -> str | None:
    """The image type by content, never by the name or the header the client sent."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def store(conn: asyncpg.Connection, *, data: bytes, settings: BookingSettings) -> dict:
    if len(data) > settings.photo_max_bytes:
        raise PhotoTooLarge(f"Photos can be up to {settings.photo_max_bytes // (1024 * 1024)} MB; this one is "
                            f"{len(data) / (1024 * 1024):.1f} MB.")
    content_type = sniff(data)
    if content_type is None:
        raise PhotoNotAccepted("Photos must be JPEG, PNG or WebP images.")
    photo_id = uuid.uuid4()
    await conn.execute("INSERT INTO photos (id, content_type, size_bytes, data) VALUES ($1, $2, $3, $4)",
                       photo_id, content_type, len(data), data)
    return {"id": photo_id, "content_type": content_type, "size_bytes": len(data)}


async def attach(conn: asyncpg.Connection, *, photo_ids: list[uuid.UUID], booking_id: uuid.UUID,
                 settings: BookingSettings) -> list[dict]:
    if not photo_ids:
        return []
    if len(photo_ids) > settings.photos_per_booking:
        raise PhotoNotAccepted(f"At most {settings.photos_per_booking} photos per booking.")
    rows = await conn.fetch(
        "UPDATE photos SET booking_id = $2 WHERE id = ANY($1::uuid[]) AND booking_id IS NULL"
        " RETURNING id, content_type", list(set(photo_ids)), booking_id)
    if len(rows) != len(set(photo_ids)):
        raise PhotoNotAccepted("Some photos are unknown or belong to another booking; upload them again.")
    return [{"url": photo_url(r["id"], settings=settings), "content_type": r["content_type"]} for r in rows]


def photo_url(photo_id: uuid.UUID, *, settings: BookingSettings) -> str:
    token = URLSafeSerializer(settings.manage_token_secret, salt=_SALT).dumps(str(photo_id))
    return f"{settings.public_base_url}/v1/photos/{photo_id}?token={token}"


async def fetch(conn: asyncpg.Connection, *, photo_id: uuid.UUID, token: str | None,
                settings: BookingSettings) -> asyncpg.Record:
    try:
        signed_for = URLSafeSerializer(settings.manage_token_secret, salt=_SALT).loads(token or "")
    except BadSignature:
        signed_for = None
    row = await conn.fetchrow("SELECT content_type, data FROM photos WHERE id = $1", photo_id) \
        if signed_for == str(photo_id) else None
    if row is None:
        raise NotFound("No such photo, or the link is not valid.")
    return row


async def delete_unattached(conn: asyncpg.Connection, older_than_hours: int = 24) -> int:
    status = await conn.execute("DELETE FROM photos WHERE booking_id IS NULL"
                                " AND uploaded_at < now() - make_interval(hours => $1)", older_than_hours)
    return int(status.split()[-1])
