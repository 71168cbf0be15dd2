"""An Open311 GeoReport v2 facade over bookings, for the city's existing 311 front end or CRM."""
