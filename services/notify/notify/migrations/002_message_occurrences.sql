-- A booking can be rescheduled, confirmed again or missed more than once; each occurrence is its
-- own message (e.g. the new pickup date), while a redelivered event names the same occurrence and
-- is still created once. '' for messages that happen once per booking.
ALTER TABLE notifications ADD COLUMN occurrence text NOT NULL DEFAULT '';
ALTER TABLE notifications DROP CONSTRAINT notifications_booking_id_kind_channel_key;
ALTER TABLE notifications ADD CONSTRAINT notifications_once UNIQUE (booking_id, kind, channel, occurrence);
