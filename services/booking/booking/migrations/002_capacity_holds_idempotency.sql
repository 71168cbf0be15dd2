-- The hauler's capacity calendar for a zone: pickups per day. A weekday default
-- per zone, with per-day overrides set by staff for a range of days at once.
CREATE TABLE zone_capacity_defaults (
    zone_id   text NOT NULL REFERENCES zones(id),
    weekday   smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),   -- 0 = Monday
    pickups   integer NOT NULL CHECK (pickups >= 0),
    PRIMARY KEY (zone_id, weekday)
);

-- One row per zone and day once anyone books it; `booked` is kept exact by
-- the booking transaction, which holds this row's lock while it decides.
CREATE TABLE capacity_days (
    zone_id   text NOT NULL REFERENCES zones(id),
    day       date NOT NULL,
    pickups   integer NOT NULL CHECK (pickups >= 0),
    booked    integer NOT NULL DEFAULT 0 CHECK (booked >= 0),
    PRIMARY KEY (zone_id, day),
    CHECK (booked <= pickups)
);

-- Days nobody collects: city holidays (zone_id NULL) or a hauler's blackout for one zone.
CREATE TABLE blackout_days (
    id        bigserial PRIMARY KEY,
    zone_id   text REFERENCES zones(id),
    day       date NOT NULL,
    reason    text NOT NULL
);
CREATE UNIQUE INDEX blackout_days_unique ON blackout_days (COALESCE(zone_id, ''), day);

-- A date reserved for a few minutes while the resident finishes booking.
CREATE TABLE holds (
    id          uuid PRIMARY KEY,
    zone_id     text NOT NULL REFERENCES zones(id),
    day         date NOT NULL,
    address_id  text NOT NULL REFERENCES address_points(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    released_at timestamptz,                    -- used by a booking, or swept after expiry
    booking_id  uuid
);
CREATE INDEX holds_active ON holds (zone_id, day) WHERE released_at IS NULL;

-- Idempotency-Key: the same key and body get the same response; a different
-- body with the same key is refused. Enforced by the primary key, in the
-- booking transaction.
CREATE TABLE idempotency_keys (
    key           text PRIMARY KEY,
    request_hash  text NOT NULL,
    booking_id    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE bookings ADD COLUMN hold_id uuid;
ALTER TABLE bookings ADD COLUMN cancelled_at timestamptz;

-- One rating per completed booking.
CREATE TABLE feedback (
    booking_id  uuid PRIMARY KEY REFERENCES bookings(id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The household is the address point: quota counts are taken under its row lock.
CREATE INDEX bookings_household_year ON bookings (address_id, pickup_date);
