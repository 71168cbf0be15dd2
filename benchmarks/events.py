"""What the event benchmarks share: a side's rate, and publishing events to a service and
waiting until its own table says they are all done."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from devstack.stack import Platform
from haulbridge_runtime import topics
from haulbridge_runtime.db import connect
from haulbridge_runtime.envelope import Event
from haulbridge_runtime.kafka import new_producer

TIMEOUT = 600.0  # seconds; a side that takes longer is broken, not slow


@dataclass
class Side:
    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


async def publish_and_wait(platform: Platform, *, service: str, schema: str, make_event: Callable[[int], Event],
                           done_sql: str, warmup: int, count: int,
                           measuring: Callable[[], None] | None = None) -> float:
    """Seconds from the first of ``count`` events published to ``done_sql`` counting them all done,
    after ``warmup`` events (so the consumer has its partitions and the pools are warm);
    ``measuring`` is called as the measured events start (e.g. to sample CPU counters)."""
    producer = new_producer(platform.bootstrap, client_id="bench")
    await producer.start()
    conn = await connect(platform.dsns[service], schema)

    async def one_run(first: int, n: int) -> float:
        started = time.perf_counter()
        for k in range(first, first + n):
            event = make_event(k)
            await producer.send(topics.qualified(event.topic, platform.topic_prefix), event.to_bytes(),
                                key=event.subject.encode())
        await producer.flush()
        done = 0
        while time.perf_counter() - started < TIMEOUT:
            done = await conn.fetchval(done_sql)
            if done >= first + n:
                return time.perf_counter() - started
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{service}: {done} of {first + n} done in {TIMEOUT:.0f} s ({done_sql})")

    try:
        await one_run(0, warmup)
        if measuring is not None:
            measuring()
        return await one_run(warmup, count)
    finally:
        await conn.close()
        await producer.stop()
