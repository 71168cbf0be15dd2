"""The consumer loop: effects applied once, failures retried then parked in <topic>.dlq, nothing dropped."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from devstack.testing import eventually, read_topic
from haulbridge_runtime import topics
from haulbridge_runtime.consumer import EventConsumer, PermanentError
from haulbridge_runtime.db import apply_migrations, create_pool
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.inbox import inbox_transaction
from haulbridge_runtime.kafka import ensure_topics, new_producer, platform_topics
from haulbridge_runtime.topics import EventType


@pytest.fixture
async def pool(database, tmp_path):
    (tmp_path / "001_effects.sql").write_text(
        "CREATE TABLE effects (event_id uuid NOT NULL, booking text NOT NULL, n int NOT NULL);"
    )
    dsn = database["booking"]
    await apply_migrations(dsn, "booking", tmp_path)
    pool = await create_pool(dsn, "booking")
    yield pool
    await pool.close()


async def _publish(bootstrap, prefix, events, raw: list[bytes] = ()):
    await ensure_topics(bootstrap, platform_topics(prefix), 3)
    producer = new_producer(bootstrap, client_id="test")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topics.qualified(e.topic, prefix), e.to_bytes(), key=e.subject.encode(),
                                         headers=e.kafka_headers())
        for value in raw:
            await producer.send_and_wait(topics.qualified(topics.BOOKING, prefix), value, key=b"junk")
    finally:
        await producer.stop()


def _event(booking: str, n: int):
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/test", subject=booking, data={"n": n})


async def _running(consumer: EventConsumer):
    task = asyncio.create_task(consumer.run())
    return task


async def test_a_redelivered_event_changes_nothing(pool, infra, topic_prefix):
    booking = str(uuid.uuid4())
    first = _event(booking, 1)
    # The same event three times (a producer retry, a replay), then another one.
    await _publish(infra.bootstrap, topic_prefix, [first, first, first, _event(booking, 2)])

    async def apply(event):
        async with inbox_transaction(pool, event, "test") as conn:
            await conn.execute("INSERT INTO effects VALUES ($1, $2, $3)", event.id, event.subject, event.data["n"])

    consumer = EventConsumer(service="test", group_id=f"g-{uuid.uuid4()}", topics_=[topics.BOOKING],
                             handlers={EventType.BOOKING_REQUESTED: apply}, bootstrap=infra.bootstrap,
                             topic_prefix=topic_prefix)
    task = await _running(consumer)
    try:
        await eventually(lambda: _count(pool, 2), what="two effects")
        await asyncio.sleep(0.5)
        async with pool.acquire() as conn:
            assert [r["n"] for r in await conn.fetch("SELECT n FROM effects ORDER BY n")] == [1, 2]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_event_that_keeps_failing_is_parked_in_the_dead_letter_topic_and_the_rest_flow_on(
    pool, infra, topic_prefix
):
    booking = str(uuid.uuid4())
    poison, fine, bad_data = _event(booking, 666), _event(booking, 1), _event(booking, 13)
    await _publish(infra.bootstrap, topic_prefix, [poison, fine, bad_data], raw=[b"{not json"])
    attempts: list[int] = []

    async def apply(event):
        if event.data["n"] == 666:
            attempts.append(1)
            raise ConnectionError("the database blinked")
        if event.data["n"] == 13:
            raise PermanentError("item list missing")
        async with inbox_transaction(pool, event, "test") as conn:
            await conn.execute("INSERT INTO effects VALUES ($1, $2, $3)", event.id, event.subject, event.data["n"])

    consumer = EventConsumer(service="test", group_id=f"g-{uuid.uuid4()}", topics_=[topics.BOOKING],
                             handlers={EventType.BOOKING_REQUESTED: apply}, bootstrap=infra.bootstrap,
                             topic_prefix=topic_prefix, max_attempts=3, retry_initial_seconds=0.01,
                             retry_max_seconds=0.05)
    task = await _running(consumer)
    try:
        parked = await read_topic(infra.bootstrap, topics.qualified(topics.dlq(topics.BOOKING), topic_prefix),
                                  expect=3)
        await eventually(lambda: _count(pool, 1), what="the healthy event's effect")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert len(attempts) == 3  # retried, then parked
    by_value = {r.value: dict(r.headers) for r in parked}
    assert set(by_value) == {poison.to_bytes(), bad_data.to_bytes(), b"{not json"}
    retried = by_value[poison.to_bytes()]
    assert retried["dlq-attempts"] == b"3"
    assert b"the database blinked" in retried["dlq-error"]
    assert retried["dlq-original-topic"] == topics.BOOKING.encode()
    assert retried["ce_id"] == poison.id.encode()  # the original headers travel with it
    assert by_value[bad_data.to_bytes()]["dlq-attempts"] == b"1"
    assert by_value[bad_data.to_bytes()]["dlq-error"].startswith(b"permanent: item list missing")
    assert by_value[b"{not json"]["dlq-error"].startswith(b"undecodable event")


async def _count(pool, expected: int) -> bool:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM effects") == expected


async def test_with_key_concurrency_different_bookings_overlap_and_each_bookings_events_keep_their_order(
        pool, infra, topic_prefix):
    bookings = [str(uuid.uuid4()) for _ in range(12)]
    await _publish(infra.bootstrap, topic_prefix, [_event(b, n) for n in range(1, 4) for b in bookings])
    in_flight, most_in_flight = 0, 0

    async def apply(event):  # a slow vendor call, then the effect
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        async with inbox_transaction(pool, event, "test") as conn:
            await conn.execute("INSERT INTO effects VALUES ($1, $2, $3)", event.id, event.subject, event.data["n"])

    consumer = EventConsumer(service="test", group_id=f"g-{uuid.uuid4()}", topics_=[topics.BOOKING],
                             handlers={EventType.BOOKING_REQUESTED: apply}, bootstrap=infra.bootstrap,
                             topic_prefix=topic_prefix, key_concurrency=8)
    task = await _running(consumer)
    try:
        await eventually(lambda: _count(pool, 36), what="every effect")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT booking, array_agg(n ORDER BY ctid) AS ns FROM effects GROUP BY booking")
    assert {r["booking"]: list(r["ns"]) for r in rows} == {b: [1, 2, 3] for b in bookings}  # each in order
    assert most_in_flight > 3  # more than one per partition at a time (3 partitions)
