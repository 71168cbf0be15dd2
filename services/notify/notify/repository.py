"""All SQL of the notify service."""
from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

import asyncpg


def _rows(status: str) -> int:
    """How many rows a command changed, from its status ("UPDATE 3")."""
    return int(status.split()[-1])


async def upsert_recipient(conn: asyncpg.Connection, *, booking_id: UUID, reference: str, contact: dict,
                           pickup_date, manage_url: str | None) -> None:
    await conn.execute(
        "INSERT INTO recipients (booking_id, reference, name, email, phone, language, channels, pickup_date,"
        " manage_url) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (booking_id) DO NOTHING",
        booking_id, reference, contact["name"], contact.get("email"), contact.get("phone"),
        contact.get("language", "en"), contact.get("channels", ["email"]), pickup_date, manage_url,
    )


async def close(conn: asyncpg.Connection, *, booking_id: UUID) -> None:
    """The booking is over (done, cancelled, rejected): the retention clock for its contact starts."""
    await conn.execute("INSERT INTO closed_bookings (booking_id) VALUES ($1) ON CONFLICT DO NOTHING", booking_id)


async def forget_contacts(conn: asyncpg.Connection, *, closed_days_ago: int) -> int:
    """Blank the contact details of bookings closed that long ago; how many."""
    status = await conn.execute(
        "UPDATE recipients SET name = '(removed)', email = NULL, phone = NULL, manage_url = NULL,"
        " details_removed_at = now() FROM closed_bookings c"
        " WHERE c.booking_id = recipients.booking_id AND recipients.details_removed_at IS NULL"
        "   AND c.closed_at < now() - make_interval(days => $1)", closed_days_ago)
    return _rows(status)


async def stop_channel(conn: asyncpg.Connection, *, booking_id: UUID, channel: str) -> bool:
    """The resident opted out of a channel for this booking; False when the booking is unknown here."""
    return await conn.fetchval(
        "UPDATE recipients SET channels = array_remove(channels, $2) WHERE booking_id = $1 RETURNING true",
        booking_id, channel) is not None


async def move_pickup(conn: asyncpg.Connection, *, booking_id: UUID, pickup_date) -> None:
    await conn.execute("UPDATE recipients SET pickup_date = $2 WHERE booking_id = $1", booking_id, pickup_date)


async def create_notification(conn: asyncpg.Connection, *, booking_id: UUID, kind: str, channel: str,
                              occurrence: str, context: dict, correlation_id: str,
                              send_at: datetime | None = None) -> bool:
    """False when this (booking, kind, channel, occurrence) message already exists: it is never made twice.

    ``send_at`` schedules it (a reminder): it waits in the table, not in memory, until then. A
    scheduled message that was withdrawn (the pickup moved away, then back) is scheduled again.
    """
    return bool(await conn.fetchval(
        "INSERT INTO notifications (id, booking_id, kind, channel, occurrence, context, correlation_id,"
        " next_attempt_at) VALUES ($1,$2,$3,$4,$5,$6,$7, coalesce($8, now()))"
        " ON CONFLICT (booking_id, kind, channel, occurrence) DO UPDATE"
        "   SET status = 'created', error = NULL, next_attempt_at = EXCLUDED.next_attempt_at"
        "   WHERE $8::timestamptz IS NOT NULL AND notifications.status = 'withdrawn'"
        " RETURNING true",
        uuid.uuid4(), booking_id, kind, channel, occurrence, context, correlation_id, send_at,
    ))


async def withdraw(conn: asyncpg.Connection, *, booking_id: UUID, kind: str, reason: str,
                   keep_occurrence: str | None = None) -> int:
    """Messages of this kind not sent yet will not be: ``withdrawn``, with why (e.g. the pickup moved)."""
    status = await conn.execute(
        "UPDATE notifications SET status = 'withdrawn', error = $3"
        " WHERE booking_id = $1 AND kind = $2 AND status = 'created' AND occurrence IS DISTINCT FROM $4",
        booking_id, kind, reason, keep_occurrence)
    return _rows(status)


async def due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Messages due to be sent whose recipient is known, oldest first (not yet claimed)."""
    return await conn.fetch(
        "SELECT n.*, r.reference, r.name, r.email, r.phone, r.language, r.channels, r.pickup_date, r.manage_url"
        " FROM notifications n JOIN recipients r ON r.booking_id = n.booking_id"
        " WHERE n.status = 'created' AND n.next_attempt_at <= now() ORDER BY n.created_at LIMIT $1",
        limit,
    )


async def start_sending(conn: asyncpg.Connection, notification_id: UUID) -> int | None:
    """Record the attempt ("sending", committed) just before talking to the provider; its number.

    None when another sender took the message first. Claiming one message at a time, right
    before its send, means a crash leaves only the message in flight as "sending".
    """
    return await conn.fetchval(
        "UPDATE notifications SET status = 'sending', attempts = attempts + 1, sending_at = now()"
        " WHERE id = $1 AND status = 'created' RETURNING attempts", notification_id)


async def mark_sent(conn: asyncpg.Connection, notification_id: UUID) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), error = NULL WHERE id = $1", notification_id
    )


async def mark_retry(conn: asyncpg.Connection, notification_id: UUID, *, error: str, delay_seconds: float) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'created', error = $2,"
        " next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        notification_id, error, delay_seconds,
    )


async def mark_not_sent(conn: asyncpg.Connection, notification_id: UUID, *, reason: str) -> None:
    """Not sent on purpose (the resident did not choose this channel): recorded, never retried."""
    await conn.execute("UPDATE notifications SET status = 'not_sent', error = $2 WHERE id = $1",
                       notification_id, reason)


async def mark_failed(conn: asyncpg.Connection, notification_id: UUID, *, error: str) -> None:
    await conn.execute("UPDATE notifications SET status = 'failed', error = $2 WHERE id = $1",
                       notification_id, error)


async def time_out_sending(conn: asyncpg.Connection, older_than_seconds: int) -> int:
    status = await conn.execute(
        "UPDATE notifications SET status = 'unknown',"
        " error = 'interrupted while sending; not re-sent (check with the provider)'"
        " WHERE status = 'sending' AND sending_at < now() - make_interval(secs => $1)",
        older_than_seconds,
    )
    return _rows(status)


async def notifications_for(conn: asyncpg.Connection, booking_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, kind, channel, status, attempts, created_at, sent_at, error FROM notifications"
        " WHERE booking_id = $1 ORDER BY created_at", booking_id,
    )
