"""The transactional outbox: events leave in the order written, and survive a broker outage."""
from __future__ import annotations

import asyncio
import json
import signal
import uuid

import pytest

from devstack.infra import TansuBroker, free_port
from devstack.testing import eventually, read_topic
from haulbridge_runtime import topics
from haulbridge_runtime.db import apply_migrations, create_pool
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.outbox import OutboxRelay, add_event
from haulbridge_runtime.topics import EventType


@pytest.fixture
async def pool(database, tmp_path):
    dsn = database["booking"]
    await apply_migrations(dsn, "booking", tmp_path)  # the runtime's own tables only
    pool = await create_pool(dsn, "booking")
    yield pool
    await pool.close()


def _relay(pool, dsn, bootstrap, prefix) -> OutboxRelay:
    return OutboxRelay(pool=pool, dsn=dsn, schema="booking", service="test", bootstrap=bootstrap,
                       topic_prefix=prefix, poll_seconds=30)  # a long poll: only NOTIFY can wake it in time


def _event(booking_id: uuid.UUID, n: int):
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/test", subject=str(booking_id),
                     data={"n": n})


async def test_events_of_one_booking_arrive_in_the_order_they_were_written(pool, database, infra, topic_prefix):
    bookings = [uuid.uuid4() for _ in range(5)]
    written: dict[str, list[int]] = {str(b): [] for b in bookings}
    for n in range(60):
        b = bookings[n % 5]
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, _event(b, n))
        written[str(b)].append(n)
    relay = _relay(pool, database["booking"], infra.bootstrap, topic_prefix)
    task = asyncio.create_task(relay.run())
    try:
        records = await read_topic(infra.bootstrap, topics.qualified(topics.BOOKING, topic_prefix), expect=60)
    finally:
        task.cancel()
        await relay.stop()
    seen: dict[str, list[int]] = {str(b): [] for b in bookings}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        seen[r.key.decode()].append(json.loads(r.value)["data"]["n"])
    assert seen == written
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_a_rolled_back_transaction_publishes_nothing(pool, database, infra, topic_prefix):
    relay = _relay(pool, database["booking"], infra.bootstrap, topic_prefix)
    task = asyncio.create_task(relay.run())
    booking = uuid.uuid4()
    try:
        with pytest.raises(RuntimeError):
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, _event(booking, 0))
                raise RuntimeError("the state change failed")
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, _event(booking, 1))
        records = await read_topic(infra.bootstrap, topics.qualified(topics.BOOKING, topic_prefix), expect=2,
                                   timeout=5)
    finally:
        task.cancel()
        await relay.stop()
    assert [json.loads(r.value)["data"]["n"] for r in records] == [1]


async def test_events_written_while_the_broker_is_down_are_published_once_it_is_back(
    pool, database, topic_prefix, tmp_path
):
    # The outage is the broker process frozen (SIGSTOP): unreachable, as in a network partition
    # or a hung node, but keeping its log, as a real Kafka cluster does across an outage. (The
    # memory-only Tansu build loses its topics on restart; see docs/operations.md.)
    broker = TansuBroker(free_port(), log_dir=tmp_path).start()
    relay = _relay(pool, database["booking"], broker.bootstrap, topic_prefix)
    task = asyncio.create_task(relay.run())
    booking = uuid.uuid4()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await add_event(conn, _event(booking, 0))
        await eventually(lambda: _unpublished(pool, 0), what="the first event to be published")

        broker.process.send_signal(signal.SIGSTOP)
        for n in (1, 2, 3):
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, _event(booking, n))
        # While the broker is away the rows wait in the outbox: nothing is lost.
        await asyncio.sleep(1)
        assert await _unpublished(pool, 3)

        broker.process.send_signal(signal.SIGCONT)
        await eventually(lambda: _unpublished(pool, 0), timeout=90, what="the backlog to be published")
        records = await read_topic(broker.bootstrap, topics.qualified(topics.BOOKING, topic_prefix), expect=4)
        # At-least-once: a batch that timed out mid-outage may be sent again; consumers dedupe by
        # event id. What matters is that every event arrived, in order for its booking.
        numbers = [json.loads(r.value)["data"]["n"] for r in records]
        assert sorted(set(numbers)) == [0, 1, 2, 3]
        assert [n for i, n in enumerate(numbers) if n not in numbers[:i]] == [0, 1, 2, 3]
    finally:
        broker.process.send_signal(signal.SIGCONT)
        task.cancel()
        await relay.stop()
        broker.stop()


async def _unpublished(pool, expected: int) -> bool:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == expected


class _WriterDuringPublish(OutboxRelay):
    """A relay during whose first batch another transaction commits an event (and its NOTIFY arrives)."""

    late_booking = uuid.uuid4()
    rounds = 0

    async def publish_pending(self) -> int:
        published = await super().publish_pending()
        self.rounds += 1
        if self.rounds == 1:
            async with self.pool.acquire() as conn, conn.transaction():
                await add_event(conn, _event(self.late_booking, 1))
            await eventually(self._wake.is_set, timeout=10)  # the NOTIFY has reached the relay
        return published


async def test_an_event_committed_while_a_batch_is_published_is_not_left_for_the_slow_poll(
        pool, database, infra, topic_prefix):
    async with pool.acquire() as conn, conn.transaction():
        await add_event(conn, _event(uuid.uuid4(), 0))
    relay = _WriterDuringPublish(pool=pool, dsn=database["booking"], schema="booking", service="test",
                                 bootstrap=infra.bootstrap, topic_prefix=topic_prefix, poll_seconds=3600)
    task = asyncio.create_task(relay.run())
    try:
        # With a one-hour poll only the NOTIFY that came in during the first batch can publish the second event.
        records = await read_topic(infra.bootstrap, topics.qualified(topics.BOOKING, topic_prefix), expect=2,
                                   timeout=30)
    finally:
        task.cancel()
        await relay.stop()
    assert sorted(json.loads(r.value)["data"]["n"] for r in records) == [0, 1]
