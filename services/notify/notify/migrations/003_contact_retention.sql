-- Contact details are kept only as long as they are needed: when a booking closes (done, cancelled,
-- rejected) it is recorded here, and the retention job blanks the recipient's name, email, phone and
-- manage link NOTIFY_CONTACT_RETENTION_DAYS later (the messages' history stays, without the person).
-- A table of its own, not a column of recipients: the closing event may arrive before booking.requested.
CREATE TABLE closed_bookings (
    booking_id  uuid PRIMARY KEY,
    closed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX closed_bookings_at ON closed_bookings (closed_at);
ALTER TABLE recipients ADD COLUMN details_removed_at timestamptz;
