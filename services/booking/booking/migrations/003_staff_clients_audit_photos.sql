-- The city's rules that staff may change at run time (item limits, quota, lead
-- time, horizon...). Absent keys fall back to the service's environment settings.
CREATE TABLE city_rules (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    rules       jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text
);

-- API clients: front ends (web, app, 311 chatbot, CRM) and staff. Keys are
-- stored hashed; the plain key is shown once, when it is created.
CREATE TABLE api_clients (
    id                     uuid PRIMARY KEY,
    name                   text NOT NULL UNIQUE,
    kind                   text NOT NULL CHECK (kind IN ('frontend', 'staff')),
    role                   text NOT NULL,      -- frontend: client; staff: viewer, agent, operator, admin
    key_hash               text NOT NULL UNIQUE,
    rate_limit_per_minute  integer,
    created_at             timestamptz NOT NULL DEFAULT now(),
    revoked_at             timestamptz
);

-- Every change made through the staff API, with who made it and why.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    role     text NOT NULL,
    action   text NOT NULL,
    target   text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- Photos of the items, uploaded before booking and attached to it.
CREATE TABLE photos (
    id            uuid PRIMARY KEY,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL,
    data          bytea NOT NULL,
    booking_id    uuid REFERENCES bookings(id),
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX photos_booking ON photos (booking_id);
