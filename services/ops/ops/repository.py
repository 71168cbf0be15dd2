"""Every SQL statement of the ops service (its own schema only)."""
from __future__ import annotations

from datetime import date, datetime

import asyncpg


# -- the flows ---------------------------------------------------------------------------------

async def add_flow_event(conn, *, event_id, topic, event_type, booking_id, source, occurred_at, correlation_id,
                         trace_id, summary, data) -> bool:
    """True when the event is new to ops."""
    status = await conn.execute(
        "INSERT INTO flow_events (event_id, topic, event_type, booking_id, source, occurred_at, correlation_id,"
        " trace_id, summary, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (event_id) DO NOTHING",
        event_id, topic, event_type, booking_id, source, occurred_at, correlation_id, trace_id, summary, data)
    return status.endswith(" 1")


async def booking_requested(conn, *, booking_id, reference, hauler_id, zone_id, channel, language, address,
                            phone_hash, requested_at, pickup_date, target_date, trace_id, correlation_id) -> None:
    # A booking's later events can only follow its request (one partition, in order), but a
    # booking requested before ops started may have a row made by a later event: fill it in.
    await conn.execute(
        "INSERT INTO bookings (booking_id, reference, hauler_id, zone_id, channel, language, address, phone_hash,"
        " status, requested_at, pickup_date, target_date, trace_id, correlation_id)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'requested',$9,$10,$11,$12,$13)"
        " ON CONFLICT (booking_id) DO UPDATE SET reference = EXCLUDED.reference, hauler_id = EXCLUDED.hauler_id,"
        " zone_id = EXCLUDED.zone_id, channel = EXCLUDED.channel, language = EXCLUDED.language,"
        " address = EXCLUDED.address, phone_hash = EXCLUDED.phone_hash, requested_at = EXCLUDED.requested_at,"
        " pickup_date = COALESCE(bookings.pickup_date, EXCLUDED.pickup_date),"
        " target_date = COALESCE(bookings.target_date, EXCLUDED.target_date),"
        " trace_id = EXCLUDED.trace_id, correlation_id = EXCLUDED.correlation_id, updated_at = now()",
        booking_id, reference, hauler_id, zone_id, channel, language, address, phone_hash, requested_at,
        pickup_date, target_date, trace_id, correlation_id)


def _rank_sql(ranks: dict[str, int], column: str) -> str:
    return "CASE " + column + " " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in ranks.items()) + " ELSE 0 END"


async def move_booking(conn, booking_id: str, *, status: str, rank: int, ranks: dict[str, int],
                       completed_at: datetime | None) -> None:
    """Forward only: a booking that is done stays as it ended. One statement (the projection's hot path);
    a booking whose request ops has not seen yet gets a row that its request fills in."""
    current = _rank_sql(ranks, "bookings.status")
    await conn.execute(
        "INSERT INTO bookings (booking_id, status, completed_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (booking_id) DO UPDATE SET status = EXCLUDED.status,"
        " completed_at = COALESCE(EXCLUDED.completed_at, bookings.completed_at), updated_at = now()"
        f" WHERE {current} < $4 OR ({current} = $4 AND $4 < 3)", booking_id, status, completed_at, rank)


async def correct_status(conn, booking_id: str, *, status: str) -> None:
    await conn.execute(
        "INSERT INTO bookings (booking_id, status, completed_at)"
        " VALUES ($1, $2, CASE WHEN $2 = 'completed' THEN now() END)"
        " ON CONFLICT (booking_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now(),"
        " completed_at = CASE WHEN EXCLUDED.status = 'completed' THEN COALESCE(bookings.completed_at, now()) END",
        booking_id, status)


async def set_dates(conn, booking_id: str, *, pickup_date: date, target_date: date | None) -> None:
    await conn.execute(
        "INSERT INTO bookings (booking_id, status, pickup_date, target_date) VALUES ($1, 'requested', $2, $3)"
        " ON CONFLICT (booking_id) DO UPDATE SET pickup_date = EXCLUDED.pickup_date,"
        " target_date = COALESCE(EXCLUDED.target_date, bookings.target_date), updated_at = now()",
        booking_id, pickup_date, target_date)


async def set_rating(conn, booking_id: str, *, rating: int | None) -> None:
    await conn.execute(
        "INSERT INTO bookings (booking_id, status, rating) VALUES ($1, 'requested', $2)"
        " ON CONFLICT (booking_id) DO UPDATE SET rating = EXCLUDED.rating, updated_at = now()", booking_id, rating)


async def missed_reported(conn, booking_id: str) -> None:
    await conn.execute(
        "INSERT INTO bookings (booking_id, status, missed_reported) VALUES ($1, 'requested', true)"
        " ON CONFLICT (booking_id) DO UPDATE SET missed_reported = true, updated_at = now()", booking_id)


async def add_discrepancy(conn, *, event_id: str, data: dict, found_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO discrepancies (event_id, hauler_id, day, kind, action, booking_id, reference, external_ref,"
        " city_status, hauler_status, detail, found_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
        " ON CONFLICT (event_id) DO NOTHING",
        event_id, data.get("hauler_id"), date.fromisoformat(data["day"]), data.get("kind"), data.get("action"),
        data.get("booking_id"), data.get("reference"), data.get("external_ref"), data.get("city_status"),
        data.get("hauler_status"), data.get("detail"), found_at)


async def add_dead_letter(conn, *, dlq_topic, partition, offset, original_topic, consumer, event_id, event_type,
                          booking_id, error, attempts, failed_at) -> None:
    await conn.execute(
        "INSERT INTO dead_letters (dlq_topic, partition, \"offset\", original_topic, consumer, event_id, event_type,"
        " booking_id, error, attempts, failed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        " ON CONFLICT DO NOTHING",
        dlq_topic, partition, offset, original_topic, consumer, event_id, event_type, booking_id, error, attempts,
        failed_at)


async def set_dead_letter_status(conn, *, dlq_topic: str, partition: int, offset: int, status: str) -> None:
    await conn.execute("UPDATE dead_letters SET status = $4 WHERE dlq_topic = $1 AND partition = $2"
                       " AND \"offset\" = $3", dlq_topic, partition, offset, status)


# -- what the console shows ------------------------------------------------------------------

async def events_per_minute(conn, *, minutes: int = 30) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT topic, date_trunc('minute', occurred_at) AS minute, count(*) AS events FROM flow_events"
        " WHERE occurred_at > now() - make_interval(mins => $1) GROUP BY 1, 2 ORDER BY 2", minutes)


async def bookings_by_status(conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM bookings GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def parked_by_topic(conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT original_topic, count(*) AS n FROM dead_letters WHERE status = 'parked'"
                            " GROUP BY original_topic")
    return {r["original_topic"]: r["n"] for r in rows}


async def last_report_per_hauler(conn) -> dict[str, datetime]:
    rows = await conn.fetch(
        "SELECT data->>'hauler_id' AS hauler_id, max(occurred_at) AS at FROM flow_events"
        " WHERE topic = 'hauler.v1' AND event_type LIKE 'org.haulbridge.pickup.%' GROUP BY 1")
    return {r["hauler_id"]: r["at"] for r in rows if r["hauler_id"]}


async def find_bookings(conn, *, reference: str | None = None, address: str | None = None,
                        phone_hash: str | None = None, limit: int = 50) -> list[asyncpg.Record]:
    if reference:
        return await conn.fetch("SELECT * FROM bookings WHERE upper(reference) = upper($1)", reference.strip())
    if phone_hash:
        return await conn.fetch("SELECT * FROM bookings WHERE phone_hash = $1 ORDER BY requested_at DESC NULLS LAST"
                                " LIMIT $2", phone_hash, limit)
    if address:
        pattern = "%" + address.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return await conn.fetch("SELECT * FROM bookings WHERE address ILIKE $1 ORDER BY requested_at DESC NULLS LAST"
                                " LIMIT $2", pattern, limit)
    return await conn.fetch("SELECT * FROM bookings ORDER BY requested_at DESC NULLS LAST LIMIT $1", limit)


async def booking(conn, booking_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM bookings WHERE booking_id = $1", booking_id)


async def flow_of(conn, booking_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM flow_events WHERE booking_id = $1 ORDER BY occurred_at, seen_at",
                            booking_id)


async def dead_letters_of(conn, booking_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM dead_letters WHERE booking_id = $1 ORDER BY failed_at", booking_id)


async def discrepancies(conn, *, hauler_id: str | None, since: date | None, until: date | None
                        ) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM discrepancies WHERE ($1::text IS NULL OR hauler_id = $1)"
        " AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)"
        " ORDER BY day DESC, hauler_id, found_at", hauler_id, since, until)


async def kpi_bookings(conn, *, first_day: date, last_day: date) -> list[asyncpg.Record]:
    """Bookings whose pickup date falls in the period, with the messages sent about each."""
    return await conn.fetch(
        "SELECT b.booking_id, b.hauler_id, b.channel, b.status, b.pickup_date, b.target_date, b.completed_at,"
        " b.rating, b.requested_at,"
        " (SELECT count(*) FROM flow_events f WHERE f.booking_id = b.booking_id"
        "   AND f.event_type = 'org.haulbridge.notification.sent.v1' AND f.data->>'channel' = 'sms') AS sms,"
        " (SELECT count(*) FROM flow_events f WHERE f.booking_id = b.booking_id"
        "   AND f.event_type = 'org.haulbridge.notification.sent.v1' AND f.data->>'channel' = 'email') AS emails"
        " FROM bookings b WHERE b.pickup_date BETWEEN $1 AND $2", first_day, last_day)


async def pickup_months(conn) -> list[date]:
    rows = await conn.fetch("SELECT DISTINCT date_trunc('month', pickup_date)::date AS month FROM bookings"
                            " WHERE pickup_date IS NOT NULL ORDER BY 1 DESC")
    return [r["month"] for r in rows]


# -- staff --------------------------------------------------------------------------------------

async def staff_member(conn, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM staff WHERE username = $1", username)


async def all_staff(conn) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT username, display_name, role, active, created_at, last_login_at FROM staff"
                            " ORDER BY username")


async def put_staff(conn, *, username: str, display_name: str, role: str, password_hash: str) -> None:
    await conn.execute(
        "INSERT INTO staff (username, display_name, role, password_hash) VALUES ($1,$2,$3,$4)"
        " ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name, role = EXCLUDED.role,"
        " password_hash = EXCLUDED.password_hash, active = true", username, display_name, role, password_hash)


async def set_staff_role(conn, username: str, *, role: str, active: bool) -> bool:
    status = await conn.execute("UPDATE staff SET role = $2, active = $3 WHERE username = $1", username, role, active)
    return status.endswith(" 1")


async def logged_in(conn, username: str, *, password_hash: str | None) -> None:
    await conn.execute("UPDATE staff SET last_login_at = now(), password_hash = COALESCE($2, password_hash)"
                       " WHERE username = $1", username, password_hash)


async def record_action(conn, *, username: str, action: str, outcome: str, target: str | None = None,
                        reason: str | None = None, detail: str | None = None) -> None:
    await conn.execute("INSERT INTO staff_actions (username, action, target, reason, outcome, detail)"
                       " VALUES ($1,$2,$3,$4,$5,$6)", username, action, target, reason, outcome, detail)


async def recent_actions(conn, limit: int = 100) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM staff_actions ORDER BY id DESC LIMIT $1", limit)
