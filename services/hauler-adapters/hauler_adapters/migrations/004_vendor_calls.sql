-- Every call to a hauler's system about one booking (dispatch, status, cancel, reschedule), for the
-- booking's timeline and the hauler's health: written after the call, best effort (vendor_calls.py),
-- pruned after ADAPTERS_VENDOR_CALLS_RETENTION_DAYS. Calls about no one booking (job lists,
-- manifests, completion files) are in the metrics only.
CREATE TABLE vendor_calls (
    id            bigserial PRIMARY KEY,
    hauler_id     text NOT NULL,
    booking_id    uuid,                        -- NULL: a job number the city does not know
    external_ref  text,
    operation     text NOT NULL,               -- dispatch, status, cancel, reschedule
    outcome       text NOT NULL,               -- ok, refused, unavailable, circuit_open, error
    detail        text,                        -- the vendor's words or the error, truncated
    duration_ms   integer,                     -- NULL: not called (circuit open)
    at            timestamptz NOT NULL         -- when the call was asked for
);
CREATE INDEX vendor_calls_booking ON vendor_calls (booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX vendor_calls_hauler_at ON vendor_calls (hauler_id, at);
-- Pruning by age: rows arrive in time order, so a BRIN index finds the old ones for next to nothing.
CREATE INDEX vendor_calls_at ON vendor_calls USING brin (at);
