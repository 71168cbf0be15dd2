"""Transactional outbox and its relay.

``add_event`` is called inside the caller's transaction, next to the state
change the event describes. The relay publishes unpublished rows in id order,
keyed by the event's subject (the booking id), and stamps them published only
after the broker acknowledged every record of the batch. It is woken by
LISTEN/NOTIFY the moment a writing transaction commits; a slow poll is only
the fallback for a lost notification. One relay per schema publishes at a
time (an advisory lock), so replicas never reorder a booking's events.
"""
from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime

import asyncpg

from . import metrics, topics, tracing
from .envelope import Event
from .kafka import close_quietly, ensure_topics, new_producer, platform_topics
from .logs import get_logger

log = get_logger(__name__)


async def add_event(conn: asyncpg.Connection, event: Event) -> None:
    """Stage ``event`` for publication; it becomes visible only if the caller's transaction commits."""
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, record_key, event_type, payload) VALUES ($1, $2, $3, $4, $5)",
        event.id,
        event.topic,
        event.subject,
        event.type,
        event.to_json(),
    )


async def republish_since(conn: asyncpg.Connection, since: datetime) -> int:
    """Mark rows published at or after ``since`` for publication again (after a broker loss)."""
    status = await conn.execute(
        "UPDATE outbox SET published_at = NULL WHERE published_at >= $1", since
    )
    return int(status.split()[-1])


def _relay_lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"outbox-relay:{schema}".encode()).digest()[:8], "big", signed=True)


class OutboxRelay:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        dsn: str,
        schema: str,
        service: str,
        bootstrap: str,
        topic_prefix: str = "",
        partitions: int = 3,
        poll_seconds: float = 5.0,
        batch_size: int = 500,
        retention_hours: int = 168,
    ) -> None:
        self.pool = pool
        self.dsn = dsn
        self.schema = schema
        self.service = service
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.partitions = partitions
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.retention_hours = retention_hours
        self._wake = asyncio.Event()
        self._producer = None
        self.healthy = False
        self.is_leader = False

    def wake(self, *_args) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            listen_conn: asyncpg.Connection | None = None
            try:
                listen_conn = await asyncpg.connect(self.dsn)
                await self._become_leader(listen_conn)
                await listen_conn.add_listener(f"{self.schema}_outbox", self.wake)
                await self._publish_loop()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.healthy = False
                log.warning("outbox relay error; retrying", error=repr(exc), backoff=backoff)
                await self._close_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.is_leader = False
                if listen_conn is not None:
                    await listen_conn.close()

    async def _become_leader(self, conn: asyncpg.Connection) -> None:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _relay_lock_key(self.schema)):
            self.healthy = True  # a standby is healthy; another replica is publishing
            await asyncio.sleep(self.poll_seconds)
        self.is_leader = True

    async def _ensure_producer(self):
        if self._producer is None:
            await ensure_topics(self.bootstrap, platform_topics(self.topic_prefix), self.partitions)
            producer = new_producer(self.bootstrap, client_id=f"{self.service}-outbox")
            await producer.start()
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await close_quietly(producer, what=f"{self.service}-outbox")

    async def _publish_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_prune = 0.0
        while True:
            # Cleared before reading the outbox, not after: a NOTIFY for a row committed while this
            # batch is being published must wake the next round, not wait for the slow poll.
            self._wake.clear()
            published = await self.publish_pending()
            self.healthy = True
            if loop.time() - last_prune > 600:
                await self.prune()
                last_prune = loop.time()
            if published >= self.batch_size:
                continue  # more waiting; don't sleep
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass

    async def publish_pending(self) -> int:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, topic, record_key, payload FROM outbox"
                " WHERE published_at IS NULL ORDER BY id LIMIT $1",
                self.batch_size,
            )
        if not rows:
            metrics.OUTBOX_BACKLOG.labels(self.service).set(0)
            return 0
        producer = await self._ensure_producer()
        acks = []
        with tracing.publish_spans() as spans:  # a PRODUCER span per record, in its event's trace
            for row in rows:
                event = Event.model_validate(row["payload"])
                topic = topics.qualified(row["topic"], self.topic_prefix)
                spans.add(topic=topic, key=row["record_key"], event_id=event.id, event_type=event.type,
                          traceparent=event.traceparent)
                acks.append(
                    await producer.send(
                        topic,
                        value=event.to_bytes(),
                        key=row["record_key"].encode(),
                        headers=event.kafka_headers(),
                    )
                )
            # aiokafka keeps one batch in flight per partition, so per-key order holds.
            await asyncio.gather(*acks)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
            backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(self.service, row["topic"]).inc()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(backlog)
        log.debug("outbox published", count=len(rows))
        return len(rows)

    async def prune(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - make_interval(hours => $1)",
                self.retention_hours,
            )

    async def stop(self) -> None:
        await self._close_producer()
