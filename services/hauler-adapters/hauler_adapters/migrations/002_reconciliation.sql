-- The job as sent, so reconciliation can send it again when the hauler has lost it.
ALTER TABLE dispatches ADD COLUMN job jsonb;

-- What reconciliation found: per hauler and day, each discrepancy once (found again on a later
-- run, it is the same row, its last_seen_at moved), with the action taken.
CREATE TABLE discrepancies (
    id             bigserial PRIMARY KEY,
    hauler_id      text NOT NULL,
    day            date NOT NULL,              -- the city day of the run that found it
    kind           text NOT NULL,              -- missing_at_hauler, unknown_to_city, status_mismatch, overdue
    booking_id     uuid,
    reference      text,
    external_ref   text,
    city_status    text,
    hauler_status  text,
    action         text NOT NULL,              -- redispatched, applied_hauler_status, reported
    detail         text,
    found_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX discrepancies_once ON discrepancies
    (hauler_id, day, kind, coalesce(booking_id::text, ''), coalesce(external_ref, ''));
