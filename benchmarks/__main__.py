"""``make bench`` (``python -m benchmarks``): start the embedded infrastructure, run the
benchmarks, print their tables, stop everything it started.

Environment: BENCH_ONLY (booking, notify, adapters or ops; all when unset), BENCH_MESSAGES (notify, 1000),
BENCH_DISPATCHES (adapters, 2000), BENCH_VENDOR_LATENCY (adapters, 0.05 s),
BENCH_OPS_BOOKINGS (ops, 1000 booking flows of six events each),
BENCH_BOOKINGS (default 2000), BENCH_WARMUP (100), BENCH_CLIENTS (50), BENCH_HTTP_CLIENT
(aiohttp, the default, or httpx),
BENCH_POOL (the service's db_pool_max default, 10), BENCH_ROUNDS (2: raw and API
phases alternate this many times), BENCH_SHARED_CLIENT=1 (one httpx
AsyncClient with max_connections=BENCH_CLIENTS instead of one AsyncClient per client).
Exit status 1 when a request failed (the numbers would mean nothing), else 0:
the aims are reported, not enforced.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

try:
    import uvloop  # the services run on it (uvicorn picks it when installed); so does the load here
except ImportError:  # pragma: no cover - uvloop is a dependency of uvicorn[standard]
    uvloop = None

from devstack.infra import EmbeddedPostgres, TansuBroker, free_port
from devstack.stack import Platform, Ports, prepare_database
from haulbridge_runtime.logs import configure_logging

from . import adapters_throughput, booking_throughput, notify_throughput, ops_throughput


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    # The baseline runs the service's code in this process: keep its info lines off the output.
    configure_logging("benchmarks", "WARNING")
    config = booking_throughput.Config.from_env()
    run_dir = Path(tempfile.mkdtemp(prefix="haulbridge-bench-"))
    started = time.perf_counter()
    pg = EmbeddedPostgres(log_dir=run_dir)
    broker = TansuBroker(log_dir=run_dir)
    platform: Platform | None = None
    keep_logs = True
    try:
        say(f"starting PostgreSQL (port {pg.port}) and the Tansu broker (port {broker.port}) ...")
        pg.start()
        broker.start()
        dsns = asyncio.run(prepare_database(pg.admin_dsn, "haulbridge_bench"))
        platform = Platform(dsns=dsns, bootstrap=broker.bootstrap, run_dir=run_dir,
                            ports=Ports(booking=free_port(), adapters=free_port(), notify=free_port(), ops=free_port(),
                                        json_hauler=free_port(), smtp=free_port(), smtp_http=free_port(),
                                        sms_pelican=free_port(), sms_kestrel=free_port(),
                                        notify_bounces=free_port(), declarative_hauler=free_port(),
                                        soap_hauler=free_port(), adapters_replies=free_port(),
                                        email_office=free_port(), email_office_http=free_port(),
                                        sftp_hauler=free_port(), sftp_hauler_http=free_port()))
        say("seeding the demo city ...")
        platform.seed_demo_city()
        loop_factory = uvloop.new_event_loop if uvloop is not None else None
        only = os.environ.get("BENCH_ONLY", "")  # booking, notify, adapters or ops; empty: all
        failures = 0
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            if only in ("", "booking"):
                result = booking_throughput.run(platform, runner, config, postgres_pid=pg.process.pid,
                                                broker_pid=broker.process.pid, say=say)
                print(booking_throughput.report(result), flush=True)
                failures = result.failures
            if only in ("", "notify"):
                print(notify_throughput.report(notify_throughput.run(platform, runner, say=say)), flush=True)
            if only in ("", "adapters"):
                print(adapters_throughput.report(adapters_throughput.run(platform, runner, say=say)), flush=True)
            if only in ("", "ops"):
                print(ops_throughput.report(ops_throughput.run(platform, runner, postgres_pid=pg.process.pid,
                                                               broker_pid=broker.process.pid, say=say)), flush=True)
        keep_logs = failures > 0
        return 1 if failures else 0
    finally:
        if platform is not None:
            platform.stop_all()
        broker.stop()
        pg.stop()
        if keep_logs:
            say(f"logs kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
        say(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
