"""Inbox: the idempotent-consumer half of effectively-once delivery.

A handler opens :func:`inbox_transaction`; the event id is recorded first, in
the same transaction as the handler's effect. A redelivered event conflicts on
that row and raises :class:`AlreadyProcessed`, which the consumer loop counts
as a duplicate and skips. Two concurrent deliveries of one event serialise on
the primary key: one applies, the other finds the row.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from .envelope import Event


class AlreadyProcessed(Exception):
    """This consumer has already applied this event."""


async def already_processed(conn: asyncpg.Connection, event: Event, consumer: str) -> bool:
    """A cheap pre-check for handlers with external side effects (skip the vendor call)."""
    return bool(
        await conn.fetchval(
            "SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2", consumer, event.id
        )
    )


@asynccontextmanager
async def inbox_transaction(
    pool: asyncpg.Pool, event: Event, consumer: str
) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn:
        async with conn.transaction():
            first_time = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id, event_type, topic) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING true",
                consumer,
                event.id,
                event.type,
                event.topic,
            )
            if not first_time:
                raise AlreadyProcessed(event.id)
            yield conn
