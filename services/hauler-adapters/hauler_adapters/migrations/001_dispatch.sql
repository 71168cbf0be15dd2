-- How to reach each hauler. Credentials are never stored: *_env columns name
-- the environment variable (or mounted secret) that holds them.
CREATE TABLE hauler_integrations (
    hauler_id            text PRIMARY KEY,
    kind                 text NOT NULL,          -- json_api, soap, email, batch_files, declarative_json
    base_url             text,
    api_key_env          text,
    webhook_secret_env   text,
    config               jsonb NOT NULL DEFAULT '{}',
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per booking sent to a hauler; the attempt is recorded before and
-- after every vendor call, so a crash in between is visible and safe to retry
-- (the idempotency key makes the vendor answer the same).
CREATE TABLE dispatches (
    booking_id        uuid PRIMARY KEY,
    reference         text NOT NULL,
    hauler_id         text NOT NULL,
    pickup_date       date NOT NULL,
    idempotency_key   text NOT NULL,
    correlation_id    text NOT NULL,            -- the booking's, so vendor reports join its flow
    traceparent       text NOT NULL,
    status            text NOT NULL,            -- sending, accepted, rejected, failed, confirmed, completed
    external_ref      text,
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX dispatches_external_ref ON dispatches (hauler_id, external_ref) WHERE external_ref IS NOT NULL;

-- Every webhook a hauler sent, verified or not; (hauler, webhook id) is the dedupe key.
CREATE TABLE webhook_log (
    id            bigserial PRIMARY KEY,
    hauler_id     text NOT NULL,
    webhook_id    text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    verified      boolean NOT NULL,
    outcome       text NOT NULL,               -- applied, duplicate, rejected_signature, unknown_job, ignored
    payload       jsonb
);
CREATE UNIQUE INDEX webhook_log_dedupe ON webhook_log (hauler_id, webhook_id) WHERE verified;
