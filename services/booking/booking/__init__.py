"""The booking service: the city's system of record for junk pickups."""
