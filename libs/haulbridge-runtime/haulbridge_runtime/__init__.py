"""Shared runtime of the Haulbridge services.

Every service depends on this library and on nothing of another service:
the event envelope, topic names, the transactional outbox and its relay, the
inbox (idempotent consumer), the consumer loop with retries and dead letters,
settings, JSON logging, metrics and the HTTP scaffolding with problem details.
"""
