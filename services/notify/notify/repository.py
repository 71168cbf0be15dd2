"""All SQL of the notify service."""
from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

import asyncpg

from haulbridge_runtime import tracing


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
    await conn.execute(
        "UPDATE inbound_sms SET phone = NULL, body = '(removed)'"
        " WHERE phone IS NOT NULL AND received_at < now() - make_interval(days => $1)", closed_days_ago)
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
                              send_at: datetime | None = None, provider: str | None = None,
                              traceparent: str | None = None) -> bool:
    """False when this (booking, kind, channel, occurrence) message already exists: it is never made twice.

    ``send_at`` schedules it (a reminder): it waits in the table, not in memory, until then. A
    scheduled message that was withdrawn (the pickup moved away, then back) is scheduled again.
    ``provider`` pins it to one SMS provider (a reply goes back the way the resident's text came).
    Its trace is the span recording now (tracing on), else ``traceparent`` (the causing event's).
    """
    return bool(await conn.fetchval(
        "INSERT INTO notifications (id, booking_id, kind, channel, occurrence, context, correlation_id,"
        " next_attempt_at, provider, traceparent) VALUES ($1,$2,$3,$4,$5,$6,$7, coalesce($8, now()), $9, $10)"
        " ON CONFLICT (booking_id, kind, channel, occurrence) DO UPDATE"
        "   SET status = 'created', error = NULL, next_attempt_at = EXCLUDED.next_attempt_at"
        "   WHERE $8::timestamptz IS NOT NULL AND notifications.status = 'withdrawn'"
        " RETURNING true",
        uuid.uuid4(), booking_id, kind, channel, occurrence, context, correlation_id, send_at, provider,
        tracing.current_traceparent() or traceparent,
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
        "SELECT n.*, r.reference, r.name, r.email, r.phone, r.language, r.channels, r.pickup_date, r.manage_url,"
        "       o.opted_out_at AS sms_opted_out_at"
        " FROM notifications n JOIN recipients r ON r.booking_id = n.booking_id"
        " LEFT JOIN sms_opt_outs o ON o.phone = r.phone"
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


async def use_provider(conn: asyncpg.Connection, notification_id: UUID, provider: str) -> None:
    """Recorded before the provider is called: after a crash, which provider may have the message."""
    await conn.execute("UPDATE notifications SET provider = $2 WHERE id = $1", notification_id, provider)


async def mark_sent(conn: asyncpg.Connection, notification_id: UUID, *, provider: str,
                    provider_message_id: str | None, segments: int | None = None) -> None:
    await conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), error = NULL, provider = $2,"
        " provider_message_id = $3, segments = $4,"
        " delivery_status = coalesce(delivery_status, 'sent'), delivery_updated_at = coalesce(delivery_updated_at, now())"
        " WHERE id = $1", notification_id, provider, provider_message_id, segments)


async def mark_retry(conn: asyncpg.Connection, notification_id: UUID, *, error: str, delay_seconds: float,
                     keep_provider: bool = False) -> None:
    """Back to "created" for a later attempt. ``keep_provider``: only the same provider may try
    again (it may already have the message, and its idempotency key makes the retry safe)."""
    await conn.execute(
        "UPDATE notifications SET status = 'created', error = $2,"
        " next_attempt_at = now() + make_interval(secs => $3),"
        " provider = CASE WHEN $4 THEN provider END WHERE id = $1",
        notification_id, error, delay_seconds, keep_provider,
    )


async def hold(conn: asyncpg.Connection, notification_id: UUID, *, until: datetime, reason: str) -> None:
    """Not now (quiet hours): back to "created" until then; the claim was not an attempt."""
    await conn.execute(
        "UPDATE notifications SET status = 'created', attempts = attempts - 1, next_attempt_at = $2, error = $3"
        " WHERE id = $1", notification_id, until, reason)


async def mark_unknown(conn: asyncpg.Connection, notification_id: UUID, *, error: str) -> None:
    """The provider may or may not have it and cannot be asked safely: never re-sent blindly."""
    await conn.execute("UPDATE notifications SET status = 'unknown', error = $2 WHERE id = $1",
                       notification_id, error)


async def mark_not_sent(conn: asyncpg.Connection, notification_id: UUID, *, reason: str) -> None:
    """Not sent on purpose (the resident did not choose this channel): recorded, never retried."""
    await conn.execute("UPDATE notifications SET status = 'not_sent', error = $2 WHERE id = $1",
                       notification_id, reason)


async def mark_failed(conn: asyncpg.Connection, notification_id: UUID, *, error: str) -> None:
    await conn.execute("UPDATE notifications SET status = 'failed', error = $2 WHERE id = $1",
                       notification_id, error)


async def time_out_sending(conn: asyncpg.Connection, older_than_seconds: int,
                           idempotent_providers: list[str]) -> tuple[int, int]:
    """Messages left "sending" by a crash: (marked unknown, re-driven).

    Re-driven — back to "created", pinned to its provider — when that provider de-duplicates by
    our idempotency key, so sending again cannot make a second text; otherwise "unknown", never
    re-sent blindly. A delivery receipt that arrives later still marks it sent.
    """
    rows = await conn.fetch(
        "UPDATE notifications SET"
        "   status = CASE WHEN provider = ANY($2::text[]) THEN 'created' ELSE 'unknown' END,"
        "   error = CASE WHEN provider = ANY($2::text[])"
        "     THEN 'interrupted while sending; sent again with the same idempotency key'"
        "     ELSE 'interrupted while sending; not re-sent (check with the provider)' END"
        " WHERE status = 'sending' AND sending_at < now() - make_interval(secs => $1)"
        " RETURNING status", older_than_seconds, idempotent_providers)
    redriven = sum(r["status"] == "created" for r in rows)
    return len(rows) - redriven, redriven


async def fail_orphans(conn: asyncpg.Connection, older_than_hours: int) -> int:
    """Messages whose booking never became known here (its booking.requested never came): failed,
    so nothing waits forever."""
    status = await conn.execute(
        "UPDATE notifications n SET status = 'failed',"
        " error = 'no booking.requested for this booking arrived; nobody to send to'"
        " WHERE n.status = 'created' AND n.created_at < now() - make_interval(hours => $1)"
        "   AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.booking_id = n.booking_id)", older_than_hours)
    return _rows(status)


# Later reports never move a message's delivery backwards (receipts come late, twice, out of order).
_DELIVERY_RANK = "CASE {} WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'undelivered' THEN 2 ELSE 0 END"


async def record_delivery(conn: asyncpg.Connection, *, notification_id: UUID, provider_message_id: str | None,
                          status: str, error: str | None) -> bool:
    """A provider's receipt or a bounce; False when it changes nothing (unknown message, stale)."""
    return bool(await conn.fetchval(
        "UPDATE notifications SET delivery_status = $3, delivery_error = $4, delivery_updated_at = now(),"
        "   provider_message_id = coalesce(provider_message_id, $2),"
        "   sent_at = CASE WHEN status = 'sent' THEN sent_at ELSE now() END,"
        "   status = 'sent'"  # the provider has it: whatever a crash left, it was sent
        " WHERE id = $1 AND status IN ('created', 'sending', 'sent', 'unknown', 'failed')"
        "   AND (provider_message_id IS NULL OR $2::text IS NULL OR provider_message_id = $2)"
        f"  AND {_DELIVERY_RANK.format('delivery_status')} < {_DELIVERY_RANK.format('$3::text')}"
        " RETURNING true", notification_id, provider_message_id, status, error))


async def opt_out_of_sms(conn: asyncpg.Connection, phone: str) -> None:
    await conn.execute("INSERT INTO sms_opt_outs (phone) VALUES ($1) ON CONFLICT DO NOTHING", phone)


async def opt_in_to_sms(conn: asyncpg.Connection, phone: str) -> None:
    await conn.execute("DELETE FROM sms_opt_outs WHERE phone = $1", phone)


async def record_inbound(conn: asyncpg.Connection, *, provider: str, provider_message_id: str, phone: str,
                         body: str, keyword: str, booking_id: UUID | None) -> bool:
    """False when this text was already received (the provider delivered its webhook again)."""
    return bool(await conn.fetchval(
        "INSERT INTO inbound_sms (provider, provider_message_id, phone, body, keyword, booking_id)"
        " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING RETURNING true",
        provider, provider_message_id, phone, body, keyword, booking_id))


async def booking_of_phone(conn: asyncpg.Connection, phone: str) -> asyncpg.Record | None:
    """The booking a text from this phone is about: its next open pickup, else its latest booking."""
    return await conn.fetchrow(
        "SELECT r.booking_id, r.pickup_date, r.language, r.correlation_id FROM ("
        "  SELECT r.*, (SELECT n.correlation_id FROM notifications n WHERE n.booking_id = r.booking_id"
        "               ORDER BY n.created_at LIMIT 1) AS correlation_id,"
        "         c.booking_id IS NULL AND r.pickup_date >= current_date AS upcoming"
        "  FROM recipients r LEFT JOIN closed_bookings c ON c.booking_id = r.booking_id"
        "  WHERE r.phone = $1) r"
        " ORDER BY r.upcoming DESC, CASE WHEN r.upcoming THEN r.pickup_date END, r.created_at DESC LIMIT 1",
        phone)


async def notifications_for(conn: asyncpg.Connection, booking_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, kind, channel, status, attempts, created_at, sent_at, error, provider, segments,"
        " delivery_status, delivery_error FROM notifications"
        " WHERE booking_id = $1 ORDER BY created_at", booking_id,
    )
