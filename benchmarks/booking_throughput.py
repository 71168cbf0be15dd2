"""Booking throughput: ``POST /v1/bookings`` over HTTP against the same transaction through asyncpg.

Baseline ("raw"): ``bookings.service.create_booking`` in a transaction, issued directly from this
process through an asyncpg pool of the same size as the service's pool, by the same number of
concurrent workers. That is the SQL (and the Python that issues it) the API runs for a booking,
with nothing in front of it.

API: the booking service as its own OS process (``Platform.start("booking")``), exactly as
``make run`` starts it, with its outbox relay publishing ``booking.requested`` to the broker
while the run goes on. The same number of concurrent clients post the same sequence of
booking requests over keep-alive connections. The load generator shares the machine's CPUs with
the service and PostgreSQL, so it must cost as little as possible per request, or the run
measures the load generator rather than the API: by default it is one aiohttp ``ClientSession``
(a pool of ``BENCH_CLIENTS`` connections). ``BENCH_HTTP_CLIENT=httpx`` uses one httpx
``AsyncClient`` with one keep-alive connection per client instead (about 1.7 ms of CPU per request
on a 2-core machine, against about 0.5 ms for aiohttp); ``BENCH_SHARED_CLIENT=1`` with httpx
shares one ``AsyncClient`` (about 5 ms per request in httpcore's pool bookkeeping).

The two sides alternate in rounds (raw, API, raw, API, ...) so that a change in what else the
shared machine is doing falls on both. The service is stopped while the baseline runs, so its
relay does not publish during the baseline; it publishes the baseline's events when it starts,
before the API is measured. The report adds the CPU each process used per booking (from /proc),
which says where the difference between the two rates goes.

Both sides book across every served, eligible demo address and many weekdays whose capacity is
raised first, so no request is refused for capacity, and consecutive requests come from
different households for different days, as independent residents' would. Every request must
succeed (201); failures are counted and printed.
"""
from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

import aiohttp
import httpx

from booking.bookings.schemas import BookingRequest
from booking.bookings.service import create_booking
from booking.calendar import repository as calendar_repository
from booking.calendar import rules
from booking.calendar.service import bookable_window
from booking.settings import BookingSettings
from devstack.stack import Platform
from devstack.testing import booking_body
from haulbridge_runtime.db import connect, create_pool

AIM = 0.5  # the API should reach at least this share of the raw transaction rate
CAPACITY_PER_DAY = 1_000_000  # per zone and day: far above anything a run books
PHASE_TIMEOUT = 240.0  # seconds; a phase that takes longer is broken, not slow
HTTP_TIMEOUT = 60.0
OUTBOX_TIMEOUT = 120.0

RAW = "raw asyncpg transaction"
API = "HTTP API (POST /v1/bookings)"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class Config:
    bookings: int = 2000  # BENCH_BOOKINGS: measured bookings per side, over all rounds
    warmup: int = 100  # BENCH_WARMUP: bookings per side and round before measuring
    clients: int = 50  # BENCH_CLIENTS: concurrent clients (workers) per side
    pool: int = 10  # BENCH_POOL: asyncpg pool size, baseline and service alike
    rounds: int = 2  # BENCH_ROUNDS: raw/API alternations
    shared_client: bool = False  # BENCH_SHARED_CLIENT=1: one AsyncClient (max_connections=clients) for all
    http_client: str = "aiohttp"  # BENCH_HTTP_CLIENT: aiohttp (one ClientSession) or httpx

    @classmethod
    def from_env(cls) -> "Config":
        default = cls()
        return cls(
            bookings=_env_int("BENCH_BOOKINGS", default.bookings),
            warmup=_env_int("BENCH_WARMUP", default.warmup),
            clients=_env_int("BENCH_CLIENTS", default.clients),
            pool=_env_int("BENCH_POOL", BookingSettings.model_fields["db_pool_max"].default),
            rounds=max(1, _env_int("BENCH_ROUNDS", default.rounds)),
            shared_client=os.environ.get("BENCH_SHARED_CLIENT", "") not in ("", "0"),
            http_client=os.environ.get("BENCH_HTTP_CLIENT", default.http_client),
        )

    def round_sizes(self) -> list[int]:
        base, extra = divmod(self.bookings, self.rounds)
        return [base + (1 if k < extra else 0) for k in range(self.rounds)]


@dataclass
class Stats:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    failures: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process while measuring

    def add(self, other: "Stats") -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.failures += other.failures
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


@dataclass
class Result:
    config: Config
    raw: Stats
    api: Stats
    round_ratios: list[float]
    events_published: int
    drain_seconds: list[float | None]  # per round: outbox empty this long after the last API response

    @property
    def failures(self) -> int:
        return len(self.raw.failures) + len(self.api.failures)

    @property
    def ratio(self) -> float:
        return self.api.rate / self.raw.rate if self.raw.rate else 0.0


# -- the workload ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    addresses: list[tuple[str, str]]  # (address text, zone id), served and eligible
    days: list[date]

    @property
    def zones(self) -> int:
        return len({zone for _, zone in self.addresses})

    def body(self, i: int) -> dict:
        # Consecutive requests go to different households and different days, as independent
        # residents' would; every (zone, day) has far more capacity than the run needs.
        address, _zone = self.addresses[i % len(self.addresses)]
        day = self.days[(i + i // len(self.addresses)) % len(self.days)]
        return booking_body(
            address=address,
            pickup_date=day.isoformat(),
            contact={"name": f"Bench Resident {i}", "email": f"bench{i}@example.org", "language": "en"},
        )


async def prepare(dsn: str, settings: BookingSettings) -> Plan:
    """Pick the served, eligible addresses and the bookable weekdays; raise those days' capacity."""
    conn = await connect(dsn, settings.db_schema)
    try:
        rows = await conn.fetch(
            "SELECT address, zone_id FROM address_points WHERE zone_id IS NOT NULL AND land_use = ANY($1)"
            " ORDER BY id", settings.eligible_land_uses)
        addresses = [(r["address"], r["zone_id"]) for r in rows]
        zones = sorted({zone for _, zone in addresses})
        window = await bookable_window(conn, settings=settings)
        holidays = await calendar_repository.city_holidays(conn, window.earliest, window.latest)
        days = [d for d in rules.days_between(window.earliest, window.latest) if d.weekday() < 5 and d not in holidays]
        # Keep clear of both ends: the earliest date moves on at the day's cut-off hour, and a run
        # must not see its first dates become unbookable halfway through.
        days = days[2:-1]
        for zone in zones:
            if days:
                blackouts = await calendar_repository.blackout_days(conn, zone_id=zone, first=days[0], last=days[-1])
                days = [d for d in days if d not in blackouts]
        async with conn.transaction():
            for zone in zones:
                for day in days:
                    await calendar_repository.set_capacity(conn, zone, day, CAPACITY_PER_DAY)
    finally:
        await conn.close()
    if not addresses or not days:
        raise RuntimeError(f"nothing to book: {len(addresses)} addresses, {len(days)} days")
    return Plan(addresses=addresses, days=days)


# -- CPU used by each process (Linux /proc; left out elsewhere) ---------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def process_cpu(pid: int, *, tree: bool = False) -> float | None:
    """CPU seconds used by ``pid`` (with ``tree``: and by its children, live or exited)."""
    fields = _stat(pid)
    if fields is None:
        return None
    # After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    ticks = int(fields[11]) + int(fields[12])
    if tree:
        ticks += int(fields[13]) + int(fields[14])  # children that have exited
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                child = _stat(int(entry))
                if child is not None and child[1] == str(pid):
                    ticks += int(child[11]) + int(child[12])
    return ticks / _TICK


@dataclass(frozen=True)
class Watched:
    """The processes whose CPU is reported, besides this one: name -> (pid, whole tree)."""
    pids: dict[str, tuple[int, bool]]

    def sample(self) -> dict[str, float]:
        out = {"this process": time.process_time()}
        for name, (pid, tree) in self.pids.items():
            value = process_cpu(pid, tree=tree)
            if value is not None:
                out[name] = value
        return out


# -- the load loop, shared by both sides ------------------------------------------------------------

async def _drive(name: str, first: int, count: int, clients: int,
                 one: Callable[[int], Awaitable[str | None]], watched: Watched | None = None) -> Stats:
    """``clients`` workers take request numbers first..first+count-1 in turn; ``one`` returns
    None on success or a description of the failure."""
    numbers = iter(range(first, first + count))
    stats = Stats(name)

    async def worker() -> None:
        for i in numbers:  # one shared iterator: each number is taken by exactly one worker
            started = time.perf_counter()
            try:
                failure = await one(i)
            except Exception as exc:  # counted and shown, never hidden
                failure = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - started
            if failure is None:
                stats.latencies.append(elapsed)
            else:
                stats.failures.append(f"#{i}: {failure}"[:400])

    cpu_before = watched.sample() if watched else {}
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), PHASE_TIMEOUT)
    stats.seconds = time.perf_counter() - started
    cpu_after = watched.sample() if watched else {}
    stats.cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_after if k in cpu_before}
    return stats


async def _warm_then_measure(name: str, first: int, count: int, config: Config,
                             one: Callable[[int], Awaitable[str | None]], watched: Watched) -> Stats:
    if config.warmup:
        warm = await _drive(f"{name} (warm-up)", first, config.warmup, config.clients, one)
        if warm.failures:
            return warm
    return await _drive(name, first + config.warmup, count, config.clients, one, watched)


async def run_raw(dsn: str, settings: BookingSettings, plan: Plan, config: Config, *, first: int, count: int,
                  watched: Watched) -> Stats:
    """The baseline: the booking transaction straight through an asyncpg pool."""
    requests = {i: BookingRequest.model_validate(plan.body(i)) for i in range(first, first + config.warmup + count)}
    pool = await create_pool(dsn, settings.db_schema, min_size=config.pool, max_size=config.pool)

    async def one(i: int) -> str | None:
        async with pool.acquire() as conn:
            async with conn.transaction():
                await create_booking(conn, request=requests[i], settings=settings)
        return None

    try:
        return await _warm_then_measure(RAW, first, count, config, one, watched)
    finally:
        await pool.close()


async def run_api(base_url: str, plan: Plan, config: Config, *, first: int, count: int, watched: Watched) -> Stats:
    """The API: POST /v1/bookings to the booking service process, from ``config.clients`` clients."""
    bodies = {i: plan.body(i) for i in range(first, first + config.warmup + count)}
    if config.http_client == "aiohttp":
        return await _run_api_aiohttp(base_url, bodies, config, first=first, count=count, watched=watched)
    if config.shared_client:
        limits = httpx.Limits(max_connections=config.clients, max_keepalive_connections=config.clients)
        clients = [httpx.AsyncClient(base_url=base_url, limits=limits, timeout=HTTP_TIMEOUT)] * config.clients
    else:
        # One AsyncClient (one keep-alive connection) per concurrent client, like residents' browsers.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        clients = [httpx.AsyncClient(base_url=base_url, limits=limits, timeout=HTTP_TIMEOUT)
                   for _ in range(config.clients)]
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    for client in clients:
        idle.put_nowait(client)

    async def one(i: int) -> str | None:
        client = idle.get_nowait()  # never empty: at most ``clients`` requests are in flight
        try:
            response = await client.post("/v1/bookings", json=bodies[i])
        finally:
            idle.put_nowait(client)
        if response.status_code != 201:
            return f"HTTP {response.status_code}: {response.text[:300]}"
        return None

    try:
        return await _warm_then_measure(API, first, count, config, one, watched)
    finally:
        for client in set(clients):
            await client.aclose()


async def _run_api_aiohttp(base_url: str, bodies: dict[int, dict], config: Config, *, first: int, count: int,
                           watched: Watched) -> Stats:
    connector = aiohttp.TCPConnector(limit=config.clients)
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
    async with aiohttp.ClientSession(base_url=base_url, connector=connector, timeout=timeout) as session:
        async def one(i: int) -> str | None:
            async with session.post("/v1/bookings", json=bodies[i]) as response:
                if response.status != 201:
                    return f"HTTP {response.status}: {(await response.text())[:300]}"
                await response.read()
                return None

        return await _warm_then_measure(API, first, count, config, one, watched)


# -- the outbox, published by the service's relay ----------------------------------------------------

async def outbox_counts(dsn: str, schema: str) -> tuple[int, int]:
    """(unpublished, published) outbox rows."""
    conn = await connect(dsn, schema)
    try:
        row = await conn.fetchrow("SELECT count(*) FILTER (WHERE published_at IS NULL) AS pending,"
                                  " count(*) FILTER (WHERE published_at IS NOT NULL) AS published FROM outbox")
        return row["pending"], row["published"]
    finally:
        await conn.close()


async def wait_outbox_empty(dsn: str, schema: str, timeout: float = OUTBOX_TIMEOUT) -> float | None:
    """Seconds until the relay has published every outbox row, or None after ``timeout``."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        pending, _ = await outbox_counts(dsn, schema)
        if pending == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)
    return None


# -- the whole benchmark ----------------------------------------------------------------------------

SERVICE_ENV = {
    "BOOKING_LOG_LEVEL": "WARNING",
    # The anonymous resident limit (600/minute per client address) would refuse most of a run that
    # comes from one loopback address; the limiter itself stays in the path.
    "BOOKING_RATE_LIMIT_ANONYMOUS": "1000000/minute",
}


def run(platform: Platform, runner: asyncio.Runner, config: Config, *, postgres_pid: int | None = None,
        broker_pid: int | None = None, say=print) -> Result:
    """Alternate raw and API phases; ``postgres_pid`` and ``broker_pid``, when given, add their
    CPU use to the report."""
    infra: dict[str, tuple[int, bool]] = {}
    if postgres_pid:
        infra["PostgreSQL"] = (postgres_pid, True)
    if broker_pid:
        infra["broker"] = (broker_pid, False)
    dsn = platform.dsns["booking"]
    settings = BookingSettings(database_url=dsn, db_pool_max=config.pool)
    log = platform.run_dir / "booking.log"
    plan = runner.run(prepare(dsn, settings))
    say(f"workload: {len(plan.addresses)} addresses in {plan.zones} zones, {len(plan.days)} weekdays "
        f"({plan.days[0]} .. {plan.days[-1]}), capacity raised to {CAPACITY_PER_DAY} per zone and day")

    raw, api = Stats(RAW), Stats(API)
    round_ratios: list[float] = []
    drains: list[float | None] = []
    first = 0
    for k, count in enumerate(config.round_sizes(), start=1):
        say(f"round {k}/{config.rounds}: raw, {config.warmup} + {count} bookings through asyncpg "
            f"({config.clients} workers, pool {config.pool}) ...")
        raw_round = runner.run(run_raw(dsn, settings, plan, config, first=first, count=count,
                                       watched=Watched(infra)))
        raw.add(raw_round)
        if raw_round.failures:
            break

        say(f"round {k}/{config.rounds}: starting the booking service ...")
        platform.start("booking", env={**SERVICE_ENV, "BOOKING_DB_POOL_MAX": str(config.pool)})
        try:
            # Its relay publishes the baseline's events first; measure the API once that is done.
            if runner.run(wait_outbox_empty(dsn, settings.db_schema)) is None:
                raise RuntimeError(f"the outbox relay did not publish the baseline's events within "
                                   f"{OUTBOX_TIMEOUT:.0f} s; see {log}")
            base_url = f"http://127.0.0.1:{platform.ports.booking}"
            say(f"round {k}/{config.rounds}: API, {config.warmup} + {count} bookings over HTTP to {base_url} "
                f"({config.clients} clients) ...")
            service = {"service": (platform.processes["booking"].popen.pid, False)}
            api_round = runner.run(run_api(base_url, plan, config, first=first, count=count,
                                           watched=Watched({**service, **infra})))
            drains.append(runner.run(wait_outbox_empty(dsn, settings.db_schema)))
            if platform.exited():
                api_round.failures.append(f"the booking service exited during the run; see {log}")
        finally:
            platform.stop("booking")
        api.add(api_round)
        if api_round.failures:
            break
        round_ratios.append(api_round.rate / raw_round.rate if raw_round.rate else 0.0)
        first += config.warmup + count

    _, published = runner.run(outbox_counts(dsn, settings.db_schema))
    return Result(config=config, raw=raw, api=api, round_ratios=round_ratios, events_published=published,
                  drain_seconds=drains)


def report(result: Result) -> str:
    c = result.config
    lines = [
        "",
        f"Booking throughput: {c.clients} concurrent clients, {c.bookings} bookings per side, DB pool {c.pool}, "
        f"{os.cpu_count()} CPUs",
        f"raw and API alternate in {c.rounds} round(s), each phase after {c.warmup} warm-up bookings",
        "HTTP load: " + (f"one aiohttp.ClientSession, {c.clients} keep-alive connections"
                         if c.http_client == "aiohttp"
                         else f"one shared httpx.AsyncClient (max_connections={c.clients})" if c.shared_client
                         else f"{c.clients} httpx.AsyncClient, one keep-alive connection each"),
        "",
        f"{'':32}{'bookings/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'ok':>7}{'failed':>8}",
    ]
    for s in (result.raw, result.api):
        lines.append(f"{s.name:32}{s.rate:12.1f}{s.percentile(50):10.1f}{s.percentile(99):10.1f}"
                     f"{len(s.latencies):7d}{len(s.failures):8d}")
    if result.raw.latencies and result.api.latencies:
        lines += [
            "",
            f"API / raw throughput: {result.ratio:.2f}"
            + (f" (rounds: {', '.join(f'{r:.2f}' for r in result.round_ratios)})" if len(result.round_ratios) > 1
               else "")
            + f"; latency API / raw: p50 x{result.api.percentile(50) / result.raw.percentile(50):.2f}, "
              f"p99 x{result.api.percentile(99) / result.raw.percentile(99):.2f}",
            f"aim (API >= {AIM:.0%} of the raw transaction rate): "
            + ("met" if result.ratio >= AIM else "NOT met") + f" ({result.ratio:.0%})",
        ]
    drains = [d for d in result.drain_seconds if d is not None]
    lines.append(
        f"outbox relay: {result.events_published} events published to the broker (both sides' bookings); "
        + (f"backlog empty {max(drains):.1f} s after the last API response at most"
           if drains and len(drains) == len(result.drain_seconds) else "backlog not confirmed empty"))
    names = [n for n in ("this process", "service", "PostgreSQL", "broker")
             if any(n in s.cpu for s in (result.raw, result.api))]
    if names:
        lines += [
            "",
            "CPU per booking, ms (\"this process\" is the load: the booking code itself on the raw side,",
            "the HTTP clients on the API side)",
            f"{'':32}" + "".join(f"{n:>14}" for n in names) + f"{'total':>10}",
        ]
        for s in (result.raw, result.api):
            ok = len(s.latencies) or 1
            cells = [f"{1000 * s.cpu[n] / ok:14.2f}" if n in s.cpu else f"{'-':>14}" for n in names]
            lines.append(f"{s.name:32}" + "".join(cells) + f"{1000 * sum(s.cpu.values()) / ok:10.2f}")
    for s in (result.raw, result.api):
        if s.failures:
            lines += ["", f"{s.name}: {len(s.failures)} failed request(s), first ones:"]
            lines += [f"  {f}" for f in s.failures[:10]]
    return "\n".join(lines)
