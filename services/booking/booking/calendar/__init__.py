"""When a pickup can happen: lead time, horizon, blackout days, the hauler's capacity and holds."""
