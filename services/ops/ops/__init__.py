"""Haulbridge ops: the operations console and the read model of every event flow behind it."""
