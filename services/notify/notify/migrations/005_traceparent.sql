-- The trace a message belongs to (W3C traceparent): the span that asked for it, usually the
-- consumer span of the booking's event, so the send, the provider's call and notification.sent
-- join the booking's trace. NULL for messages made before it was recorded.
ALTER TABLE notifications ADD COLUMN traceparent text;
