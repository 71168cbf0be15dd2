"""Send what is due, recording the attempt before and the outcome after.

A message is marked "sending" (committed) before the SMTP conversation and
"sent" after it. A crash in between leaves it "sending"; the sweeper marks it
"unknown" after a timeout and it is *not* re-sent: a resident never gets the
same message twice. Temporary failures go back to "created" with backoff;
permanent ones are "failed" with the provider's reason.
"""
from __future__ import annotations

import asyncio
from datetime import date

import asyncpg

from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.failpoints import failpoint
from haulbridge_runtime.logs import bound, get_logger, mask_email
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from . import mailer, repository, unsubscribe
from .settings import NotifySettings
from .templates_render import render_email

log = get_logger(__name__)

SOURCE = "/haulbridge/notify"


class Sender:
    def __init__(self, *, pool_getter, dsn: str, schema: str, settings: NotifySettings) -> None:
        self.pool_getter = pool_getter
        self.dsn = dsn
        self.schema = schema
        self.settings = settings
        self._wake = asyncio.Event()

    def wake(self, *_args) -> None:
        self._wake.set()

    async def run(self) -> None:
        listen = await asyncpg.connect(self.dsn)
        await listen.add_listener(f"{self.schema}_notifications", self.wake)
        try:
            while True:
                sent = await self.send_due()
                if sent:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.send_poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await listen.close()

    async def send_due(self, limit: int = 20) -> int:
        pool = self.pool_getter()
        async with pool.acquire() as conn:
            claimed = await repository.due(conn, limit)
        # No connection is held while talking to the provider. Bookings are sent to concurrently;
        # one booking's messages one after another, in the order they were created, so a resident
        # never reads "confirmed" before "received".
        by_booking: dict = {}
        for row in claimed:
            by_booking.setdefault(row["booking_id"], []).append(row)
        await asyncio.gather(*(self._send_in_order(rows) for rows in by_booking.values()))
        return len(claimed)

    async def _send_in_order(self, rows: list[asyncpg.Record]) -> None:
        for row in rows:
            await self._send_one(row)

    async def _send_one(self, row: asyncpg.Record) -> None:
        pool = self.pool_getter()
        async with pool.acquire() as conn:
            attempts = await repository.start_sending(conn, row["id"])
        if attempts is None:
            return  # another sender has it
        row = {**row, "attempts": attempts}
        with bound(correlation_id=row["correlation_id"], notification_id=str(row["id"]), kind=row["kind"],
                   booking_id=str(row["booking_id"])):
            if row["channel"] not in row["channels"]:
                async with pool.acquire() as conn:
                    await repository.mark_not_sent(conn, row["id"], reason=f"{row['channel']} is not among the "
                                                   f"resident's channels ({', '.join(row['channels']) or 'none'})")
                return
            if not row["email"]:
                async with pool.acquire() as conn:
                    await repository.mark_failed(conn, row["id"], error="no email address for this booking")
                return
            context = {**row["context"], "name": row["name"], "reference": row["reference"],
                       "manage_url": row["manage_url"],
                       "pickup_date": date.fromisoformat(row["context"]["pickup_date"])
                       if row["context"].get("pickup_date") else row["pickup_date"]}
            rendered = render_email(row["kind"], row["language"], context)
            message = mailer.build_message(settings=self.settings, to=row["email"], rendered=rendered,
                                           notification_id=str(row["id"]),
                                           unsubscribe_url=unsubscribe.link(row["booking_id"], self.settings))
            try:
                await mailer.send(message, settings=self.settings)
            except mailer.PermanentSendError as exc:
                async with pool.acquire() as conn:
                    await repository.mark_failed(conn, row["id"], error=str(exc))
                log.warning("email refused permanently", error=str(exc))
                return
            except mailer.TemporarySendError as exc:
                async with pool.acquire() as conn:
                    if row["attempts"] >= self.settings.send_max_attempts:
                        await repository.mark_failed(conn, row["id"], error=f"gave up: {exc}")
                    else:
                        delay = self.settings.send_retry_initial_seconds * 2 ** (row["attempts"] - 1)
                        await repository.mark_retry(conn, row["id"], error=str(exc), delay_seconds=delay)
                log.warning("email send failed; will retry", error=str(exc), attempts=row["attempts"])
                return
            failpoint("notify.after_send")
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await repository.mark_sent(conn, row["id"])
                    await add_event(conn, new_event(
                        type=EventType.NOTIFICATION_SENT, source=SOURCE, subject=str(row["booking_id"]),
                        correlation_id=row["correlation_id"],
                        data={"booking_id": str(row["booking_id"]), "kind": row["kind"], "channel": row["channel"]},
                    ))
            log.info("email sent", to=mask_email(row["email"]), language=rendered.language)


async def sweep(*, pool_getter, settings: NotifySettings) -> None:
    """Messages stuck in "sending" become "unknown"; contacts of long-closed bookings are forgotten."""
    async with pool_getter().acquire() as conn:
        stuck = await repository.time_out_sending(conn, settings.sending_timeout_seconds)
        forgotten = await repository.forget_contacts(conn, closed_days_ago=settings.contact_retention_days)
    if stuck:
        log.warning("messages interrupted while sending marked unknown", count=stuck)
    if forgotten:
        log.info("contact details removed after the retention period", count=forgotten,
                 days=settings.contact_retention_days)


async def sweep_forever(*, pool_getter, settings: NotifySettings, every_seconds: float = 30.0) -> None:
    while True:
        await sweep(pool_getter=pool_getter, settings=settings)
        await asyncio.sleep(every_seconds)
