"""Adapters throughput: bookings dispatched by one hauler-adapters process against a bare
aiokafka consume → produce loop on the same broker.

Baseline ("bare aiokafka"): a consumer reads BENCH_DISPATCHES events from a topic and, for each,
produces one event to another topic; no database, no vendor. The rate is events out per second.

Adapters: the hauler-adapters service as its own OS process, exactly as ``make run`` starts it,
with the JSON hauler simulator answering every create call after 50 ms (its own process). The
benchmark publishes one ``booking.requested`` per booking to ``booking.v1``; each is recorded,
sent to the hauler with its idempotency key, and answered with ``dispatch.accepted`` on
``hauler.v1`` through the outbox. After a warm-up of 100, the rate is dispatches recorded
accepted per second, from the first event published to the last recorded.

Environment: BENCH_DISPATCHES (default 2000), BENCH_VENDOR_LATENCY (0.05 s).
"""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from aiokafka import AIOKafkaConsumer

from devstack.stack import Platform
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.kafka import ensure_topics, new_producer
from haulbridge_runtime.topics import EventType

from .events import Side, publish_and_wait

WARMUP = 100


@dataclass
class Result:
    bare: Side
    adapters: Side
    latency: float


def _requested(n: int, pickup: date):
    booking_id = str(uuid.uuid4())
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/booking", subject=booking_id, data={
        "booking_id": booking_id, "reference": f"JP-2026-{n:06d}", "hauler_id": "valley-haul", "zone_id": "downtown",
        "pickup_date": pickup.isoformat(), "target_date": pickup.isoformat(),
        "address": {"text": "200 E Santa Clara St, San Jose, CA 95113", "latitude": 37.3375, "longitude": -121.886},
        "items": [{"item": "sofa", "label": "Sofa or couch", "quantity": 1}],
        "contact": {"name": f"Resident {n}", "email": f"resident{n}@example.org", "phone": None,
                    "language": "en", "channels": ["email"]},
        "notes": None, "channel": "web",
    })


async def bare_loop(bootstrap: str, count: int) -> Side:
    """The broker's own speed for this shape of work: consume one, produce one."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench-{run}.in", f"bench-{run}.out"
    await ensure_topics(bootstrap, [source, sink], 3)
    producer = new_producer(bootstrap, client_id="bench-bare")
    await producer.start()
    events = [_requested(n, date.today() + timedelta(days=8)) for n in range(count)]
    for event in events:
        await producer.send(source, event.to_bytes(), key=event.subject.encode())
    await producer.flush()
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=f"bench-{run}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        started, done = None, 0
        while done < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            started = started or time.perf_counter()
            for records in batches.values():
                for record in records:
                    await producer.send(sink, record.value, key=record.key)
                    done += 1
            await producer.flush()
            await consumer.commit()
        return Side("bare aiokafka consume → produce", count, time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def through_adapters(platform: Platform, count: int) -> Side:
    pickup = date.today() + timedelta(days=8)
    seconds = await publish_and_wait(platform, service="hauler-adapters", schema="hauler_adapters",
                                     make_event=lambda k: _requested(k, pickup), warmup=WARMUP, count=count,
                                     done_sql="SELECT count(*) FROM dispatches WHERE status = 'accepted'")
    return Side("through hauler-adapters (event → accepted)", count, seconds)


def run(platform: Platform, runner: asyncio.Runner, *, say: Callable[[str], None]) -> Result:
    count = int(os.environ.get("BENCH_DISPATCHES") or 2000)
    latency = float(os.environ.get("BENCH_VENDOR_LATENCY") or 0.05)
    say(f"adapters: {count} events through a bare aiokafka consume → produce loop ...")
    bare = runner.run(bare_loop(platform.bootstrap, count))
    say(f"adapters: {count} booking.requested events through hauler-adapters, hauler answering in "
        f"{latency * 1000:.0f} ms ...")
    platform.start("json-hauler", env={"SIM_JSON_LATENCY": str(latency), "SIM_JSON_CONFIRM_DELAY": "86400"})
    platform.start("hauler-adapters")
    try:
        adapters = runner.run(through_adapters(platform, count))
    finally:
        platform.stop("hauler-adapters")
        platform.stop("json-hauler")
    return Result(bare=bare, adapters=adapters, latency=latency)


def report(result: Result) -> str:
    lines = ["", f"Adapters throughput: {result.bare.count} events per side, same broker; the hauler answers "
                 f"in {result.latency * 1000:.0f} ms", "", f"{'':44}{'events/s':>10}{'seconds':>10}"]
    for side in (result.bare, result.adapters):
        lines.append(f"{side.name:44}{side.rate:10.1f}{side.seconds:10.1f}")
    ratio = result.adapters.rate / result.bare.rate if result.bare.rate else 0.0
    lines += ["", f"hauler-adapters / bare aiokafka throughput: {ratio:.2f}",
              f"aim: ≥ 1,000 dispatches/s through the full adapter path ({result.adapters.rate:,.0f}/s measured)"]
    return "\n".join(lines)
