"""Bookings: create, view, and follow a pickup through its lifecycle."""
