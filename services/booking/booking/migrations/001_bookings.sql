-- The demo city and any real city are loaded by `python -m booking.admin import-city`.
CREATE TABLE haulers (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    vendor_kind  text NOT NULL,
    phone        text,
    email        text
);

CREATE TABLE zones (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    hauler_id       text NOT NULL REFERENCES haulers(id),
    collection_day  text,
    boundary        jsonb NOT NULL          -- GeoJSON geometry (Polygon / MultiPolygon)
);

-- The city's address points; each is placed in its zone when imported.
CREATE TABLE address_points (
    id            text PRIMARY KEY,
    address       text NOT NULL,            -- as the city writes it
    normalized    text NOT NULL UNIQUE,     -- see places/normalise.py
    house_number  text NOT NULL,
    street        text NOT NULL,
    city          text NOT NULL,
    postcode      text NOT NULL,
    latitude      double precision NOT NULL,
    longitude     double precision NOT NULL,
    land_use      text NOT NULL,            -- single_family, multi_family, commercial...
    zone_id       text REFERENCES zones(id)
);
CREATE INDEX address_points_street ON address_points (street);

CREATE TABLE items (
    code             text PRIMARY KEY,
    category         text NOT NULL,
    label_en         text NOT NULL,
    label_es         text NOT NULL,
    label_vi         text NOT NULL,
    accepted         boolean NOT NULL,
    max_per_booking  integer,
    alternative      text                    -- where to take it when not accepted
);

CREATE SEQUENCE booking_reference_seq;

CREATE TABLE bookings (
    id             uuid PRIMARY KEY,
    reference      text NOT NULL UNIQUE,
    status         text NOT NULL,
    address_id     text NOT NULL REFERENCES address_points(id),
    zone_id        text NOT NULL REFERENCES zones(id),
    hauler_id      text NOT NULL REFERENCES haulers(id),
    pickup_date    date NOT NULL,
    target_date    date NOT NULL,
    items          jsonb NOT NULL,
    contact        jsonb NOT NULL,
    channel        text NOT NULL,
    notes          text,
    hauler_ref     text,
    correlation_id uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bookings_status ON bookings (status);

-- Every step of a booking, with its time and source: the timeline residents and staff see.
CREATE TABLE booking_history (
    id           bigserial PRIMARY KEY,
    booking_id   uuid NOT NULL REFERENCES bookings(id),
    at           timestamptz NOT NULL DEFAULT now(),
    step         text NOT NULL,             -- received, sent_to_hauler, confirmed, completed...
    from_status  text,
    to_status    text,
    outcome      text NOT NULL,             -- applied, stale, refused
    source       text NOT NULL,             -- resident, hauler:<id>, staff, system
    event_id     uuid,
    event_type   text,
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX booking_history_booking ON booking_history (booking_id, id);
