"""All SQL of the hauler-adapters service."""
from __future__ import annotations

from uuid import UUID

import asyncpg

from .vendors.base import Integration


async def get_integration(conn: asyncpg.Connection, hauler_id: str) -> Integration | None:
    row = await conn.fetchrow("SELECT * FROM hauler_integrations WHERE hauler_id = $1", hauler_id)
    if row is None:
        return None
    return Integration(hauler_id=row["hauler_id"], kind=row["kind"], base_url=row["base_url"],
                       api_key_env=row["api_key_env"], webhook_secret_env=row["webhook_secret_env"],
                       config=row["config"])


async def upsert_integration(conn: asyncpg.Connection, i: dict) -> None:
    await conn.execute(
        "INSERT INTO hauler_integrations (hauler_id, kind, base_url, api_key_env, webhook_secret_env, config)"
        " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (hauler_id) DO UPDATE SET kind = EXCLUDED.kind,"
        " base_url = EXCLUDED.base_url, api_key_env = EXCLUDED.api_key_env,"
        " webhook_secret_env = EXCLUDED.webhook_secret_env, config = EXCLUDED.config, updated_at = now()",
        i["hauler_id"], i["kind"], i.get("base_url"), i.get("api_key_env"), i.get("webhook_secret_env"),
        i.get("config", {}),
    )


async def record_attempt(conn: asyncpg.Connection, *, booking_id: UUID, reference: str, hauler_id: str,
                         pickup_date, idempotency_key: str, correlation_id: str,
                         traceparent: str, job: dict) -> asyncpg.Record:
    """Record that a call to the hauler is about to be made (committed before the call), with the job."""
    return await conn.fetchrow(
        "INSERT INTO dispatches (booking_id, reference, hauler_id, pickup_date, idempotency_key, correlation_id,"
        " traceparent, status, attempts, job) VALUES ($1,$2,$3,$4,$5,$6,$7,'sending',1,$8)"
        " ON CONFLICT (booking_id) DO UPDATE SET attempts = dispatches.attempts + 1, updated_at = now(),"
        "   status = CASE WHEN dispatches.status IN ('sending', 'failed') THEN 'sending' ELSE dispatches.status END"
        " RETURNING *",
        booking_id, reference, hauler_id, pickup_date, idempotency_key, correlation_id, traceparent, job,
    )


async def record_outcome(conn: asyncpg.Connection, *, booking_id: UUID, status: str,
                         external_ref: str | None = None, error: str | None = None) -> None:
    await conn.execute(
        "UPDATE dispatches SET status = CASE WHEN status IN ('confirmed', 'completed') THEN status ELSE $2 END,"
        " external_ref = COALESCE($3, external_ref), last_error = $4, updated_at = now() WHERE booking_id = $1",
        booking_id, status, external_ref, error,
    )


async def find_dispatch(conn: asyncpg.Connection, *, hauler_id: str, external_ref: str | None,
                        booking_id: UUID | None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dispatches WHERE hauler_id = $1 AND (external_ref = $2 OR booking_id = $3)"
        " ORDER BY (external_ref = $2) DESC NULLS LAST LIMIT 1 FOR UPDATE",
        hauler_id, external_ref, booking_id,
    )


async def find_dispatch_by_booking(conn: asyncpg.Connection, *, hauler_id: str,
                                  booking_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM dispatches WHERE hauler_id = $1 AND booking_id = $2",
                               hauler_id, booking_id)


async def hauler_of_reference(conn: asyncpg.Connection, reference: str) -> str | None:
    return await conn.fetchval("SELECT hauler_id FROM dispatches WHERE reference = $1", reference)


async def jobs_of_hauler(conn: asyncpg.Connection, hauler_id: str) -> list[asyncpg.Record]:
    """What the city believes is at this hauler (reconciliation compares it with the hauler)."""
    return await conn.fetch(
        "SELECT booking_id, reference, external_ref, status, pickup_date, job FROM dispatches"
        " WHERE hauler_id = $1 AND status NOT IN ('sending', 'failed', 'rejected')", hauler_id)


async def integrations(conn: asyncpg.Connection) -> list[Integration]:
    return [await get_integration(conn, r["hauler_id"])
            for r in await conn.fetch("SELECT hauler_id FROM hauler_integrations ORDER BY hauler_id")]


async def note_discrepancy(conn: asyncpg.Connection, d: dict) -> bool:
    """Record a discrepancy for its hauler and day; False when it was already known (seen again)."""
    return bool(await conn.fetchval(
        "INSERT INTO discrepancies (hauler_id, day, kind, booking_id, reference, external_ref, city_status,"
        " hauler_status, action, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT (hauler_id, day, kind, coalesce(booking_id::text, ''), coalesce(external_ref, ''))"
        " DO UPDATE SET last_seen_at = now() RETURNING (xmax = 0)",
        d["hauler_id"], d["day"], d["kind"], d.get("booking_id"), d.get("reference"), d.get("external_ref"),
        d.get("city_status"), d.get("hauler_status"), d["action"], d.get("detail")))


async def discrepancies(conn: asyncpg.Connection, *, hauler_id: str | None, day) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT hauler_id, day, kind, booking_id, reference, external_ref, city_status, hauler_status, action,"
        " detail, found_at, last_seen_at FROM discrepancies"
        " WHERE ($1::text IS NULL OR hauler_id = $1) AND ($2::date IS NULL OR day = $2)"
        " ORDER BY day DESC, hauler_id, kind, reference", hauler_id, day)


async def queued_jobs(conn: asyncpg.Connection, hauler_id: str) -> list[asyncpg.Record]:
    """Bookings waiting for this hauler's next manifest."""
    return await conn.fetch("SELECT booking_id, reference, job, correlation_id, traceparent FROM dispatches"
                            " WHERE hauler_id = $1 AND status = 'queued' ORDER BY created_at", hauler_id)


async def manifests_sent(conn: asyncpg.Connection, *, hauler_id: str, day) -> int:
    return await conn.fetchval("SELECT count(*) FROM manifests WHERE hauler_id = $1 AND day = $2", hauler_id, day)


async def record_manifest(conn: asyncpg.Connection, *, hauler_id: str, day, remote_path: str, bookings: int) -> None:
    await conn.execute("INSERT INTO manifests (hauler_id, day, remote_path, bookings) VALUES ($1,$2,$3,$4)",
                       hauler_id, day, remote_path, bookings)


async def completion_files_read(conn: asyncpg.Connection, hauler_id: str) -> set[str]:
    return {r["name"] for r in await conn.fetch("SELECT name FROM completion_files WHERE hauler_id = $1", hauler_id)}


async def record_completion_file(conn: asyncpg.Connection, *, hauler_id: str, name: str, reports: int,
                                 applied: int, problems: list[dict]) -> None:
    await conn.execute("INSERT INTO completion_files (hauler_id, name, reports, applied, problems)"
                       " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING", hauler_id, name, reports, applied, problems)


async def completion_files(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT hauler_id, name, reports, applied, problems, read_at FROM completion_files"
                            " ORDER BY read_at DESC")


async def open_jobs(conn: asyncpg.Connection, *, kinds: list[str]) -> list[asyncpg.Record]:
    """Jobs the city believes open at haulers of these vendor kinds (what the poller asks about)."""
    return await conn.fetch(
        "SELECT d.booking_id, d.hauler_id, d.external_ref FROM dispatches d"
        " JOIN hauler_integrations i USING (hauler_id)"
        " WHERE d.status IN ('accepted', 'confirmed') AND d.external_ref IS NOT NULL AND i.kind = ANY($1::text[])"
        " ORDER BY d.updated_at", kinds)


async def move_dispatch(conn: asyncpg.Connection, booking_id: UUID, pickup_date) -> None:
    """The pickup moved; the job kept for manifests and re-dispatch moves with it."""
    await conn.execute(
        "UPDATE dispatches SET pickup_date = $2, updated_at = now(),"
        " job = CASE WHEN job IS NULL THEN NULL ELSE jsonb_set(job, '{pickup_date}', to_jsonb($2::date::text)) END"
        " WHERE booking_id = $1", booking_id, pickup_date)


async def note_dispatch_error(conn: asyncpg.Connection, booking_id: UUID, note: str) -> None:
    await conn.execute("UPDATE dispatches SET last_error = $2, updated_at = now() WHERE booking_id = $1",
                       booking_id, note)


async def set_dispatch_status(conn: asyncpg.Connection, booking_id: UUID, status: str,
                              external_ref: str | None) -> None:
    await conn.execute(
        "UPDATE dispatches SET status = $2, external_ref = COALESCE(external_ref, $3), updated_at = now()"
        " WHERE booking_id = $1",
        booking_id, status, external_ref,
    )


async def log_webhook(conn: asyncpg.Connection, *, hauler_id: str, webhook_id: str | None, verified: bool,
                      outcome: str, payload: dict | None) -> bool:
    """Record an inbound webhook; False when this verified webhook id was already seen (a redelivery)."""
    inserted = await conn.fetchval(
        "INSERT INTO webhook_log (hauler_id, webhook_id, verified, outcome, payload) VALUES ($1,$2,$3,$4,$5)"
        " ON CONFLICT (hauler_id, webhook_id) WHERE verified DO NOTHING RETURNING true",
        hauler_id, webhook_id, verified, outcome, payload,
    )
    return bool(inserted)


async def set_webhook_outcome(conn: asyncpg.Connection, *, hauler_id: str, webhook_id: str, outcome: str) -> None:
    await conn.execute(
        "UPDATE webhook_log SET outcome = $3 WHERE hauler_id = $1 AND webhook_id = $2 AND verified",
        hauler_id, webhook_id, outcome,
    )


VENDOR_CALL_COLUMNS = "id, hauler_id, booking_id, external_ref, operation, outcome, detail, duration_ms, at"


async def record_vendor_call(conn: asyncpg.Connection, call) -> None:
    """One call to a hauler (a ``vendors.guard.VendorCall``); a call naming only the hauler's job number
    is tied to its booking through the dispatch that has that number (NULL when there is none)."""
    await conn.execute(
        "INSERT INTO vendor_calls (hauler_id, booking_id, external_ref, operation, outcome, detail, duration_ms, at)"
        " SELECT $1, COALESCE($2::uuid, (SELECT d.booking_id FROM dispatches d"
        "                                 WHERE d.hauler_id = $1 AND d.external_ref = $3)),"
        " $3, $4, $5, $6, $7, $8",
        call.hauler_id, call.booking_id, call.external_ref, call.operation, call.outcome, call.detail,
        call.duration_ms, call.at)


async def vendor_calls(conn: asyncpg.Connection, *, booking_id: UUID | None = None, hauler_id: str | None = None,
                       since=None, limit: int = 100) -> list[asyncpg.Record]:
    """Calls oldest first: from ``since`` on, the first ``limit``; without ``since``, the latest ``limit``."""
    where, args = [], []
    for clause, value in (("booking_id = ${}", booking_id), ("hauler_id = ${}", hauler_id), ("at >= ${}", since)):
        if value is not None:  # only the filters given, so each query can use its index
            args.append(value)
            where.append(clause.format(len(args)))
    args.append(limit)
    order = "at, id" if since is not None else "at DESC, id DESC"
    rows = await conn.fetch(
        f"SELECT {VENDOR_CALL_COLUMNS} FROM vendor_calls {'WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY {order} LIMIT ${len(args)}", *args)
    return rows if since is not None else rows[::-1]


async def dispatch_of_booking(conn: asyncpg.Connection, booking_id: UUID) -> asyncpg.Record | None:
    """The dispatch as operators see it (not the job as sent: it holds the resident's contact details)."""
    return await conn.fetchrow(
        "SELECT booking_id, reference, hauler_id, pickup_date, status, external_ref, attempts, last_error,"
        " correlation_id, created_at, updated_at FROM dispatches WHERE booking_id = $1", booking_id)


async def prune_vendor_calls(conn: asyncpg.Connection, *, older_than_days: int, batch: int = 10_000) -> int:
    """Remove up to ``batch`` calls older than that; how many went (call again while it is ``batch``)."""
    status = await conn.execute(
        "DELETE FROM vendor_calls WHERE id IN (SELECT id FROM vendor_calls"
        " WHERE at < now() - make_interval(days => $1) LIMIT $2)", older_than_days, batch)
    return int(status.split()[-1])
