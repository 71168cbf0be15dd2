-- The ops read model: what operations staff look at. Built only from events (every topic,
-- dead-letter topics included); ops never writes another service's data.

-- Every event ops has seen, without residents' contact details: the flows staff follow.
CREATE TABLE flow_events (
    event_id        text PRIMARY KEY,            -- the CloudEvents id: each event projected once
    topic           text NOT NULL,               -- booking.v1, hauler.v1, notify.v1 (no prefix)
    event_type      text NOT NULL,
    booking_id      text,                        -- the event's subject
    source          text NOT NULL,
    occurred_at     timestamptz NOT NULL,        -- the event's own time
    seen_at         timestamptz NOT NULL DEFAULT now(),
    correlation_id  text,
    trace_id        text,
    summary         text NOT NULL,
    data            jsonb NOT NULL
);
CREATE INDEX flow_events_booking ON flow_events (booking_id, occurred_at);
CREATE INDEX flow_events_recent ON flow_events (occurred_at);

-- One row per booking, in the booking service's words for its state.
CREATE TABLE bookings (
    booking_id      text PRIMARY KEY,
    reference       text,
    hauler_id       text,
    zone_id         text,
    channel         text,                        -- web, app, 311_agent, open311
    language        text,
    address         text,
    phone_hash      text,                        -- keyed hash of the resident's phone: searchable, not readable
    status          text NOT NULL,               -- requested, dispatched, dispatch_failed, confirmed, completed,
                                                 -- rejected, missed, cancelled
    requested_at    timestamptz,
    pickup_date     date,
    target_date     date,
    completed_at    timestamptz,
    missed_reported boolean NOT NULL DEFAULT false,
    rating          integer,
    trace_id        text,
    correlation_id  text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_reference ON bookings (reference);
CREATE INDEX bookings_phone ON bookings (phone_hash);
CREATE INDEX bookings_pickup ON bookings (pickup_date, hauler_id);

-- Events parked in a dead-letter topic, as read from it; the owning service stays their keeper.
CREATE TABLE dead_letters (
    dlq_topic       text NOT NULL,
    partition       integer NOT NULL,
    "offset"        bigint NOT NULL,
    original_topic  text,
    consumer        text,                        -- the consumer group that parked it (= its service)
    event_id        text,
    event_type      text,
    booking_id      text,
    error           text,
    attempts        integer,
    failed_at       timestamptz,
    status          text NOT NULL DEFAULT 'parked',   -- parked, replayed, discarded (as last known)
    PRIMARY KEY (dlq_topic, partition, "offset")
);

-- Differences reconciliation found between the city and a hauler, and what was done.
CREATE TABLE discrepancies (
    event_id        text PRIMARY KEY,
    hauler_id       text NOT NULL,
    day             date NOT NULL,
    kind            text NOT NULL,
    action          text NOT NULL,
    booking_id      text,
    reference       text,
    external_ref    text,
    city_status     text,
    hauler_status   text,
    detail          text,
    found_at        timestamptz NOT NULL
);
CREATE INDEX discrepancies_day ON discrepancies (day, hauler_id);

-- Operations staff and what they did.
CREATE TABLE staff (
    username        text PRIMARY KEY,
    display_name    text NOT NULL,
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash   text NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);

CREATE TABLE staff_actions (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    username        text NOT NULL,
    action          text NOT NULL,               -- login, login_refused, replay, discard, staff_created, ...
    target          text,
    reason          text,
    outcome         text NOT NULL,
    detail          text
);
CREATE INDEX staff_actions_at ON staff_actions (at);
