-- Indexes for reading bookings back as the city's volume grows: newest first (Open311 lists,
-- staff search), by pickup day (staff, hauler follow-up), by the resident's email (call centre).
CREATE INDEX bookings_created_at ON bookings (created_at DESC);
CREATE INDEX bookings_pickup_date ON bookings (pickup_date);
CREATE INDEX bookings_contact_email ON bookings (lower(contact->>'email'));
