-- Who to tell about a booking, copied from booking.requested (notify never reads
-- the booking service's tables).
CREATE TABLE recipients (
    booking_id   uuid PRIMARY KEY,
    reference    text NOT NULL,
    name         text NOT NULL,
    email        text,
    phone        text,
    language     text NOT NULL,
    channels     text[] NOT NULL,
    pickup_date  date NOT NULL,
    manage_url   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per (booking, message kind, channel): the unique key is what makes
-- "exactly one message" hold under redelivery. Status: created → sending →
-- sent | failed | unknown (crashed mid-send; never re-sent blindly).
CREATE TABLE notifications (
    id               uuid PRIMARY KEY,
    booking_id       uuid NOT NULL,
    kind             text NOT NULL,
    channel          text NOT NULL,
    status           text NOT NULL DEFAULT 'created',
    context          jsonb NOT NULL DEFAULT '{}',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    sending_at       timestamptz,
    sent_at          timestamptz,
    error            text,
    correlation_id   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (booking_id, kind, channel)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'created';
CREATE INDEX notifications_sending ON notifications (sending_at) WHERE status = 'sending';

-- Wake the sender when there may be something to send.
CREATE FUNCTION notifications_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_notifications', '');
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_wake AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_wake();
CREATE TRIGGER recipients_wake AFTER INSERT ON recipients
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_wake();
