"""Hauler adapters: city booking events out to each hauler's world, the hauler's reports back as city events."""
