-- Haulers that work from daily files: each manifest the city uploaded, and each completion file
-- it read back, with the rows it could not read (never dropped silently).
CREATE TABLE manifests (
    id           bigserial PRIMARY KEY,
    hauler_id    text NOT NULL,
    day          date NOT NULL,
    remote_path  text NOT NULL,
    bookings     integer NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE completion_files (
    hauler_id    text NOT NULL,
    name         text NOT NULL,
    reports      integer NOT NULL,
    applied      integer NOT NULL,
    problems     jsonb NOT NULL DEFAULT '[]',   -- [{"line", "raw", "reason"}]
    read_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hauler_id, name)
);
