"""The record of calls to haulers, per booking: what the operations console shows on a booking's
timeline (each dispatch, cancellation and new date sent, and each status poll that failed, with
its outcome and time; a poll that answered is counted in the metrics only, since what it found
reaches the timeline as the hauler's event).

``vendors/guard.py`` measures every call and hands the ones about one booking to
:meth:`VendorCallLog.record`, which returns at once: the row is written afterwards by a task of
its own, in its own short transaction, so recording never slows or fails a call to a hauler and
no connection is held while a hauler is called. A write that fails (or waits more than
``WRITE_TIMEOUT`` seconds) is logged and dropped, as are calls beyond ``MAX_PENDING`` waiting to be
written (the database is struggling; the metrics still count them). Rows older than
``ADAPTERS_VENDOR_CALLS_RETENTION_DAYS`` (90) are pruned daily.
"""
from __future__ import annotations

import asyncio

import asyncpg

from haulbridge_runtime.logs import get_logger

from . import repository
from .settings import AdapterSettings
from .vendors.guard import VendorCall

log = get_logger(__name__)

PRUNE_EVERY_SECONDS = 24 * 3600.0
PRUNE_BATCH = 10_000


class VendorCallLog:
    MAX_PENDING = 1000
    WRITE_TIMEOUT = 5.0

    def __init__(self, pool_getter) -> None:
        self.pool_getter = pool_getter
        self._pending: set[asyncio.Task] = set()

    def record(self, call: VendorCall) -> None:
        if call.operation == "status" and call.outcome == "ok":
            return  # a poll that answered is one of thousands; what it found arrives as an event
        if len(self._pending) >= self.MAX_PENDING:
            log.warning("vendor call not recorded: too many waiting for the database", hauler_id=call.hauler_id,
                        operation=call.operation, outcome=call.outcome)
            return
        task = asyncio.create_task(self._write(call), name="record-vendor-call")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, call: VendorCall) -> None:
        try:
            async with asyncio.timeout(self.WRITE_TIMEOUT):
                async with self.pool_getter().acquire() as conn:
                    await repository.record_vendor_call(conn, call)
        except Exception as exc:  # TimeoutError, a database down, a malformed booking id: the call stands
            log.warning("vendor call not recorded", hauler_id=call.hauler_id, operation=call.operation,
                        outcome=call.outcome, booking_id=call.booking_id, error=repr(exc))

    async def drain(self, timeout: float = 5.0) -> None:
        """Let the writes under way finish (on stop, before the pool closes)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)


async def prune(pool: asyncpg.Pool, *, older_than_days: int) -> int:
    """Remove the calls older than that, a batch per short transaction; how many went."""
    removed = 0
    while True:
        async with pool.acquire() as conn:
            batch = await repository.prune_vendor_calls(conn, older_than_days=older_than_days, batch=PRUNE_BATCH)
        removed += batch
        if batch < PRUNE_BATCH:
            return removed


async def prune_forever(pool_getter, settings: AdapterSettings) -> None:
    while True:
        try:
            removed = await prune(pool_getter(), older_than_days=settings.vendor_calls_retention_days)
            if removed:
                log.info("old vendor calls pruned", removed=removed, days=settings.vendor_calls_retention_days)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("pruning vendor calls failed; tried again tomorrow", error=str(exc))
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
