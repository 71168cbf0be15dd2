-- SMS, delivery receipts and bounces.
-- provider: who took the message (an SMS provider, or 'smtp'); provider_message_id: its id there.
-- delivery_status: what the provider reported afterwards (receipts, bounces): sent → delivered |
-- undelivered; a later report never moves it backwards. A receipt for a message left "sending" or
-- "unknown" by a crash proves the provider took it: the message is then "sent".
ALTER TABLE notifications ADD COLUMN provider text;
ALTER TABLE notifications ADD COLUMN provider_message_id text;
ALTER TABLE notifications ADD COLUMN segments integer;
ALTER TABLE notifications ADD COLUMN delivery_status text;
ALTER TABLE notifications ADD COLUMN delivery_error text;
ALTER TABLE notifications ADD COLUMN delivery_updated_at timestamptz;
CREATE INDEX notifications_provider_message ON notifications (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- Residents who texted STOP get no SMS from the city, for any booking, until they text START.
-- Per phone number (carriers require it), not per booking.
CREATE TABLE sms_opt_outs (
    phone         text PRIMARY KEY,
    opted_out_at  timestamptz NOT NULL DEFAULT now()
);

-- Every text a resident sent us, once per provider message id (a webhook delivered five times has
-- one effect), with what it was understood as and which booking it was about.
CREATE TABLE inbound_sms (
    provider             text NOT NULL,
    provider_message_id  text NOT NULL,
    phone                text,
    body                 text NOT NULL,
    keyword              text NOT NULL,
    booking_id           uuid,
    received_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_message_id)
);
CREATE INDEX recipients_phone ON recipients (phone) WHERE phone IS NOT NULL;

-- A message put back to 'created' (re-driven after a crash, a retry) wakes the sender too.
CREATE TRIGGER notifications_wake_again AFTER UPDATE OF status ON notifications
    FOR EACH ROW WHEN (NEW.status = 'created' AND OLD.status <> 'created')
    EXECUTE FUNCTION notifications_wake();
