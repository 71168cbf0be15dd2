"""Ops throughput: how fast the ops service follows the platform's events into its read model,
against a bare aiokafka loop and bare INSERTs on the same broker and database.

Ops: the ops service as its own OS process, exactly as ``make run`` starts it (only the database
and the broker behind it; the services whose /metrics it reads are not running, which it only
logs). The benchmark publishes BENCH_OPS_BOOKINGS booking flows of six events each, keyed by
booking id as the outbox relays do — ``booking.requested`` (with the resident's contact details),
``dispatch.accepted``, ``pickup.confirmed``, ``notification.sent``, ``pickup.completed`` and
``booking.feedback-received`` on ``booking.v1``, ``hauler.v1`` and ``notify.v1`` — and times, after
a warm-up of 50 flows, from the first event published until ops' ``flow_events`` holds them all
(each event is projected in one transaction: its ``flow_events`` row and its booking's row moved on).

Baselines, in the same run:

- bare aiokafka: the same number of records consumed from one topic and each produced to another
  (the adapters benchmark's loop); no database.
- one INSERT per event: the same number of ``flow_events`` rows (same columns, same indexes, a copy
  of the table) written by one autocommit asyncpg INSERT each, as many at a time as ops' pool holds;
  no Kafka.
- ops' projection in-process (for the diagnosis, not a ratio): ``Projection.project``, the handler's
  whole transaction, called directly through a pool of the same size; no Kafka, no consumer loop.

The report adds the CPU each process used per event (from /proc).

Environment: BENCH_OPS_BOOKINGS (default 1000; six events each).
"""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as day_time, timedelta

from devstack.stack import Platform
from haulbridge_runtime.db import create_pool
from haulbridge_runtime.envelope import Event, new_event, trace_id_of
from haulbridge_runtime.topics import EventType as T
from ops.projection import Projection, _public, summary_of

from .adapters_throughput import bare_loop
from .booking_throughput import Watched
from .events import Side, publish_and_wait

EVENTS_PER_BOOKING = 6
WARMUP = 50  # booking flows through ops before measuring (also lets ops catch up with earlier benchmarks' events)
DB_WORKERS = 10  # the database baselines' concurrency: ops' pool (OPS_DB_POOL_MAX, default 10)
HASH_KEY = b"bench-contact-hash-key-000000000"


@dataclass
class Measured:
    side: Side
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process while measuring


@dataclass
class Result:
    bookings: int
    bare: Side
    insert: Measured
    direct: Measured
    ops: Measured


class Flows:
    """Booking flows as the platform publishes them, six events each; the booking ids of one
    run share their first eight hex digits, so ops' table can be counted for this run only."""

    def __init__(self, pickup: date) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.pickup = pickup
        self._flows: dict[int, list[Event]] = {}

    def booking_id(self) -> str:
        return str(uuid.UUID(self.tag + uuid.uuid4().hex[8:]))

    def flow(self, n: int) -> list[Event]:
        """Booking ``n``'s six events, in the order the platform would publish them."""
        booking_id, reference, hauler = self.booking_id(), f"JP-2026-{n:06d}", ("valley-haul", "westside-recovery")[n % 2]
        phone = f"+1408555{n % 10000:04d}" if n % 2 else None
        pickup = self.pickup.isoformat()
        events: list[Event] = []

        def add(type_: str, source: str, data: dict) -> None:
            events.append(new_event(type=type_, source=source, subject=booking_id, data=data,
                                    caused_by=events[0] if events else None))

        def hauler_says(type_: str, **data) -> None:
            add(type_, "/haulbridge/hauler-adapters", {"booking_id": booking_id, "hauler_id": hauler,
                                                       "reference": reference, "hauler_reference": f"H-{reference}",
                                                       **data})

        add(T.BOOKING_REQUESTED, "/haulbridge/booking", {
            "booking_id": booking_id, "reference": reference, "hauler_id": hauler, "zone_id": "downtown",
            "pickup_date": pickup, "target_date": pickup,
            "address": {"text": f"{200 + n % 700} E Santa Clara St, San Jose, CA 95113", "latitude": 37.3377,
                        "longitude": -121.8863},
            "items": [{"item": "sofa", "label": "Sofa or couch", "quantity": 1},
                      {"item": "mattress", "label": "Mattress", "quantity": 1 + n % 2}],
            "contact": {"name": f"Resident {n}", "email": f"resident{n}@example.org", "phone": phone,
                        "language": ("en", "es", "vi")[n % 3], "channels": ["email"] + (["sms"] if phone else [])},
            "notes": "Behind the gate" if n % 5 == 0 else None, "channel": ("web", "app", "311_agent")[n % 3],
            "manage_url": f"http://127.0.0.1:8001/v1/bookings/{reference}?token=t{n}"})
        hauler_says(T.DISPATCH_ACCEPTED)
        hauler_says(T.PICKUP_CONFIRMED, pickup_date=pickup, window={"from": "08:00", "to": "12:00"})
        add(T.NOTIFICATION_SENT, "/haulbridge/notify", {"booking_id": booking_id, "kind": "booking_confirmed",
                                                        "channel": "sms" if phone else "email"})
        hauler_says(T.PICKUP_COMPLETED,
                    completed_at=datetime.combine(self.pickup, day_time(19, 30), tzinfo=UTC).isoformat())
        add(T.BOOKING_FEEDBACK_RECEIVED, "/haulbridge/booking", {
            "booking_id": booking_id, "reference": reference, "hauler_id": hauler, "rating": 1 + n % 5,
            "comment": f"Call me on 408-555-{n % 10000:04d}" if n % 4 == 0 else None})
        return events

    def event(self, k: int) -> Event:
        """The ``k``-th event of the run: booking ``k // 6``'s step ``k % 6``."""
        n, step = divmod(k, EVENTS_PER_BOOKING)
        if step == 0:
            self._flows[n] = self.flow(n)
        events = self._flows[n]
        if step == EVENTS_PER_BOOKING - 1:
            del self._flows[n]
        return events[step]

    def done_sql(self, table: str = "flow_events") -> str:
        return f"SELECT count(*) FROM {table} WHERE booking_id LIKE '{self.tag}-%'"


def _cpu_since(before: dict[str, float], watched: Watched) -> dict[str, float]:
    after = watched.sample()
    return {k: after[k] - before[k] for k in after if k in before}


async def through_ops(platform: Platform, bookings: int, watched: Watched) -> Measured:
    flows = Flows(date.today() + timedelta(days=8))
    cpu_before: dict[str, float] = {}
    seconds = await publish_and_wait(platform, service="ops", schema="ops", make_event=flows.event,
                                     done_sql=flows.done_sql(), warmup=WARMUP * EVENTS_PER_BOOKING,
                                     count=bookings * EVENTS_PER_BOOKING,
                                     measuring=lambda: cpu_before.update(watched.sample()))
    return Measured(Side("through ops (event → flow_events row)", bookings * EVENTS_PER_BOOKING, seconds),
                    _cpu_since(cpu_before, watched))


async def _by_workers(flows: Flows, bookings: int, one_flow: Callable[[list[Event]], object]) -> float:
    """Seconds for DB_WORKERS workers to take the flows one booking at a time, each flow's events in order."""
    queue: asyncio.Queue[list[Event]] = asyncio.Queue()
    for n in range(bookings):
        queue.put_nowait(flows.flow(n))

    async def worker() -> None:
        while not queue.empty():
            await one_flow(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(DB_WORKERS)))
    return time.perf_counter() - started


INSERT_ONE = ("INSERT INTO bench_flow_events (event_id, topic, event_type, booking_id, source, occurred_at,"
              " correlation_id, trace_id, summary, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
              " ON CONFLICT (event_id) DO NOTHING")


async def bare_inserts(platform: Platform, bookings: int, watched: Watched) -> Measured:
    """One autocommit INSERT per event into a copy of ops' flow_events (its columns and indexes)."""
    flows = Flows(date.today() + timedelta(days=8))
    pool = await create_pool(platform.dsns["ops"], "ops", min_size=DB_WORKERS, max_size=DB_WORKERS)
    try:
        await pool.execute("DROP TABLE IF EXISTS bench_flow_events;"
                           " CREATE TABLE bench_flow_events (LIKE flow_events INCLUDING ALL)")

        async def one_flow(events: list[Event]) -> None:
            for e in events:
                await pool.execute(INSERT_ONE, e.id, e.topic, e.type, e.subject, e.source, e.time, e.correlationid,
                                   trace_id_of(e.traceparent), summary_of(e), _public(e.data))

        before = watched.sample()
        seconds = await _by_workers(flows, bookings, one_flow)
        cpu = _cpu_since(before, watched)
        done = await pool.fetchval(flows.done_sql("bench_flow_events"))
        if done != bookings * EVENTS_PER_BOOKING:
            raise RuntimeError(f"one INSERT per event: {done} rows of {bookings * EVENTS_PER_BOOKING}")
        await pool.execute("DROP TABLE bench_flow_events")
    finally:
        await pool.close()
    return Measured(Side(f"one asyncpg INSERT per event ({DB_WORKERS} at a time)", bookings * EVENTS_PER_BOOKING,
                         seconds), cpu)


async def direct_projection(platform: Platform, bookings: int, watched: Watched) -> Measured:
    """Ops' own handler transaction (``Projection.project``), called in this process; run after ops
    has stopped, into its tables (this run's booking ids only)."""
    flows = Flows(date.today() + timedelta(days=8))
    pool = await create_pool(platform.dsns["ops"], "ops", min_size=DB_WORKERS, max_size=DB_WORKERS)
    try:
        projection = Projection(pool, contact_hash_key=HASH_KEY)

        async def one_flow(events: list[Event]) -> None:
            for e in events:
                await projection.project(e)

        before = watched.sample()
        seconds = await _by_workers(flows, bookings, one_flow)
        cpu = _cpu_since(before, watched)
        done = await pool.fetchval(flows.done_sql())
        if done != bookings * EVENTS_PER_BOOKING:
            raise RuntimeError(f"ops' projection in-process: {done} rows of {bookings * EVENTS_PER_BOOKING}")
    finally:
        await pool.close()
    return Measured(Side(f"ops' projection in-process ({DB_WORKERS} at a time)", bookings * EVENTS_PER_BOOKING,
                         seconds), cpu)


def run(platform: Platform, runner: asyncio.Runner, *, postgres_pid: int | None = None,
        broker_pid: int | None = None, say: Callable[[str], None]) -> Result:
    bookings = int(os.environ.get("BENCH_OPS_BOOKINGS") or 1000)
    events = bookings * EVENTS_PER_BOOKING
    infra: dict[str, tuple[int, bool]] = {}
    if postgres_pid:
        infra["PostgreSQL"] = (postgres_pid, True)
    if broker_pid:
        infra["broker"] = (broker_pid, False)
    say(f"ops: {events} events through a bare aiokafka consume → produce loop ...")
    bare = runner.run(bare_loop(platform.bootstrap, events))
    say(f"ops: {WARMUP} + {bookings} booking flows ({EVENTS_PER_BOOKING} events each) through the ops service ...")
    platform.start("ops")
    try:
        watched = Watched({"ops": (platform.processes["ops"].popen.pid, False), **infra})
        ops = runner.run(through_ops(platform, bookings, watched))
        if platform.exited():
            raise RuntimeError(f"ops exited during the run; see {platform.run_dir / 'ops.log'}")
    finally:
        platform.stop("ops")
    say(f"ops: {events} INSERTs into a copy of flow_events ({DB_WORKERS} at a time) ...")
    insert = runner.run(bare_inserts(platform, bookings, Watched(infra)))
    say(f"ops: {bookings} booking flows through ops' projection called in-process ({DB_WORKERS} at a time) ...")
    direct = runner.run(direct_projection(platform, bookings, Watched(infra)))
    return Result(bookings=bookings, bare=bare, insert=insert, direct=direct, ops=ops)


def report(result: Result) -> str:
    n = result.ops.side.count
    lines = ["", f"Ops throughput: {result.bookings} booking flows × {EVENTS_PER_BOOKING} events = {n} events per side, "
                 f"same broker and database; {os.cpu_count()} CPUs", "",
             f"{'':48}{'events/s':>10}{'seconds':>10}"]
    for side in (result.bare, result.insert.side, result.direct.side, result.ops.side):
        lines.append(f"{side.name:48}{side.rate:10.1f}{side.seconds:10.1f}")

    def ratio(base: Side) -> float:
        return result.ops.side.rate / base.rate if base.rate else 0.0

    lines += ["", f"ops / bare aiokafka throughput:          {ratio(result.bare):.3f}",
              f"ops / one INSERT per event throughput:   {ratio(result.insert.side):.2f}",
              f"ops / its projection in-process:         {ratio(result.direct.side):.2f}"]
    measured = (result.insert, result.direct, result.ops)
    names = [k for k in ("this process", "ops", "PostgreSQL", "broker") if any(k in m.cpu for m in measured)]
    if names:
        lines += ["", "CPU per event, ms (\"this process\" is the load: publishing on the ops side, the SQL and "
                      "its Python on the others)", f"{'':48}" + "".join(f"{k:>14}" for k in names) + f"{'total':>10}"]
        for m in measured:
            cells = [f"{1000 * m.cpu[k] / m.side.count:14.2f}" if k in m.cpu else f"{'-':>14}" for k in names]
            lines.append(f"{m.side.name:48}" + "".join(cells) + f"{1000 * sum(m.cpu.values()) / m.side.count:10.2f}")
    return "\n".join(lines)
