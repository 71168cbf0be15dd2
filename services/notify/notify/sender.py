"""Send what is due, by email or SMS, recording the attempt before and the outcome after.

A message is marked "sending" (committed) before the conversation with the
provider, with the provider's name, and "sent" after it. A crash in between
leaves it "sending"; the sweeper re-drives it when its provider de-duplicates by
our idempotency key (Kestrel), and otherwise marks it "unknown" and does *not*
re-send it: a resident never gets the same message twice. Temporary failures go
back to "created" with backoff; permanent ones are "failed" with the provider's
reason. The resident's choices (channels, STOP, quiet hours) are checked right
before each send.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import asyncpg
import httpx

from haulbridge_runtime import tracing
from haulbridge_runtime.envelope import child_traceparent, new_event
from haulbridge_runtime.failpoints import failpoint
from haulbridge_runtime.logs import bound, get_logger, mask_email, mask_phone
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from prometheus_client import Counter

from . import bounces, mailer, quiet_hours, repository, sms_providers, unsubscribe
from .settings import NotifySettings
from .sms_providers import SmsNotTaken, SmsOutcomeUnknown, SmsRefused
from .sms_routing import SmsRouter
from .templates_render import render_email, render_sms

log = get_logger(__name__)

SOURCE = "/haulbridge/notify"

OVER_SEGMENTS = Counter("haulbridge_notify_sms_over_segment_limit_total",
                        "Texts sent although longer than NOTIFY_SMS_MAX_SEGMENTS", ["kind", "language"])


class Sender:
    def __init__(self, *, pool_getter, dsn: str, schema: str, settings: NotifySettings,
                 providers: list | None = None) -> None:
        self.pool_getter = pool_getter
        self.dsn = dsn
        self.schema = schema
        self.settings = settings
        providers = sms_providers.configured(settings) if providers is None else providers
        self.router = SmsRouter(providers, window_seconds=settings.sms_health_window_seconds,
                                min_share=settings.sms_min_share)
        self._http = httpx.AsyncClient(timeout=settings.sms_timeout_seconds)
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
            await self._http.aclose()

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
        # A span in the booking's trace (the message's traceparent): the provider's call is in it.
        with bound(correlation_id=row["correlation_id"], notification_id=str(row["id"]), kind=row["kind"],
                   booking_id=str(row["booking_id"]), channel=row["channel"]), \
                tracing.span(f"notify send {row['channel']}", traceparent=row.get("traceparent"),
                             attributes={"haulbridge.notification.id": str(row["id"]),
                                         "haulbridge.notification.kind": row["kind"],
                                         "haulbridge.notification.channel": row["channel"]}):
            reason = self._not_to_send(row)
            if reason:
                async with pool.acquire() as conn:
                    await repository.mark_not_sent(conn, row["id"], reason=reason)
                return
            context = {**row["context"], "name": row["name"], "reference": row["reference"],
                       "manage_url": row["manage_url"],
                       "pickup_date": date.fromisoformat(row["context"]["pickup_date"])
                       if row["context"].get("pickup_date") else row["pickup_date"]}
            if row["channel"] == "sms":
                await self._send_sms(row, context)
            else:
                await self._send_email(row, context)

    def _not_to_send(self, row: dict) -> str | None:
        """Why this message must not go (the resident's choices), checked right before every send."""
        if row["kind"].startswith(quiet_hours.REPLY_PREFIX):
            return None  # an answer to a text the resident just sent us (HELP is answered even after STOP)
        if row["channel"] not in row["channels"]:
            return (f"{row['channel']} is not among the resident's channels "
                    f"({', '.join(row['channels']) or 'none'})")
        if row["channel"] == "sms" and row["sms_opted_out_at"] is not None:
            return f"the resident texted STOP on {row['sms_opted_out_at']:%Y-%m-%d}"
        return None

    async def _send_email(self, row: dict, context: dict) -> None:
        pool = self.pool_getter()
        if not row["email"]:
            async with pool.acquire() as conn:
                await repository.mark_failed(conn, row["id"], error="no email address for this booking")
            return
        rendered = render_email(row["kind"], row["language"], context)
        message = mailer.build_message(settings=self.settings, to=row["email"], rendered=rendered,
                                       notification_id=str(row["id"]),
                                       unsubscribe_url=unsubscribe.link(row["booking_id"], self.settings))
        try:
            await mailer.send(message, settings=self.settings,
                              return_path=bounces.return_path(row["id"], self.settings))
        except mailer.PermanentSendError as exc:
            async with pool.acquire() as conn:
                await repository.mark_failed(conn, row["id"], error=str(exc))
            log.warning("email refused permanently", error=str(exc))
            return
        except mailer.TemporarySendError as exc:
            await self._retry_later(row, str(exc))
            return
        failpoint("notify.after_send")
        await self._sent(row, provider="smtp", provider_message_id=message["Message-ID"])
        log.info("email sent", to=mask_email(row["email"]), language=rendered.language)

    async def _send_sms(self, row: dict, context: dict) -> None:
        pool = self.pool_getter()
        if not row["phone"]:
            async with pool.acquire() as conn:
                await repository.mark_failed(conn, row["id"], error="no phone number for this booking")
            return
        days = [d if isinstance(d, date) else date.fromisoformat(d)
                for d in (context.get("pickup_date"), context.get("previous_pickup_date")) if d]
        release = quiet_hours.held_until(row["kind"], days, datetime.now(UTC), self.settings)
        if release is not None:
            async with pool.acquire() as conn:
                await repository.hold(conn, row["id"], until=release, reason=f"quiet hours: held until {release:%H:%M}")
            log.info("text held for quiet hours", until=release.isoformat())
            return
        rendered = render_sms(row["kind"], row["language"], context)
        if rendered.segments.count > self.settings.sms_max_segments:
            OVER_SEGMENTS.labels(row["kind"], rendered.language).inc()
            log.warning("text longer than the segment limit", segments=rendered.segments.count,
                        limit=self.settings.sms_max_segments, encoding=rendered.segments.encoding)
        pinned = row["provider"]  # set on a "created" message: only that provider may send it
        last_error = "no SMS provider is configured" if pinned is None else f"SMS provider {pinned} is not configured"
        retry_after = None
        for provider in self.router.order(pinned):
            async with pool.acquire() as conn:
                await repository.use_provider(conn, row["id"], provider.name)
            try:
                message_id = await provider.send(self._http, to=row["phone"], text=rendered.text,
                                                 reference=str(row["id"]))
            except SmsRefused as exc:
                self.router.record(provider.name, True, "refused")
                async with pool.acquire() as conn:
                    await repository.mark_failed(conn, row["id"], error=str(exc))
                log.warning("text refused permanently", provider=provider.name, error=str(exc))
                return
            except SmsNotTaken as exc:
                self.router.record(provider.name, False, "not_taken")
                log.warning("SMS provider did not take the text; trying the next", provider=provider.name,
                            error=str(exc))
                last_error, retry_after = f"{provider.name}: {exc}", exc.retry_after
                continue
            except SmsOutcomeUnknown as exc:
                self.router.record(provider.name, False, "unknown")
                async with pool.acquire() as conn:
                    if provider.idempotent:  # the same idempotency key: the provider sends it at most once
                        await repository.mark_retry(conn, row["id"], error=f"{provider.name}: {exc}",
                                                    delay_seconds=self._backoff(row), keep_provider=True)
                    else:
                        await repository.mark_unknown(conn, row["id"], error=f"{provider.name}: {exc}; not re-sent "
                                                      "(it may have been sent; check with the provider)")
                log.warning("no answer from the SMS provider", provider=provider.name, error=str(exc))
                return
            self.router.record(provider.name, True, "sent")
            failpoint("notify.after_send")
            await self._sent(row, provider=provider.name, provider_message_id=message_id,
                             segments=rendered.segments.count)
            log.info("text sent", to=mask_phone(row["phone"]), provider=provider.name, language=rendered.language,
                     segments=rendered.segments.count, encoding=rendered.segments.encoding)
            return
        await self._retry_later(row, last_error, at_least=retry_after, keep_provider=pinned is not None)

    def _backoff(self, row: dict, at_least: float | None = None) -> float:
        return max(self.settings.send_retry_initial_seconds * 2 ** (row["attempts"] - 1), at_least or 0)

    async def _retry_later(self, row: dict, error: str, at_least: float | None = None,
                           keep_provider: bool = False) -> None:
        async with self.pool_getter().acquire() as conn:
            if row["attempts"] >= self.settings.send_max_attempts:
                await repository.mark_failed(conn, row["id"], error=f"gave up: {error}")
            else:
                await repository.mark_retry(conn, row["id"], error=error, delay_seconds=self._backoff(row, at_least),
                                            keep_provider=keep_provider)
        log.warning("send failed; will retry", error=error, attempts=row["attempts"])

    async def _sent(self, row: dict, *, provider: str, provider_message_id: str | None,
                    segments: int | None = None) -> None:
        async with self.pool_getter().acquire() as conn:
            async with conn.transaction():
                await repository.mark_sent(conn, row["id"], provider=provider,
                                           provider_message_id=provider_message_id, segments=segments)
                await add_event(conn, new_event(
                    type=EventType.NOTIFICATION_SENT, source=SOURCE, subject=str(row["booking_id"]),
                    correlation_id=row["correlation_id"],
                    traceparent=child_traceparent(row["traceparent"]) if row.get("traceparent") else None,
                    data={"booking_id": str(row["booking_id"]), "kind": row["kind"], "channel": row["channel"]},
                ))


async def sweep(*, pool_getter, settings: NotifySettings) -> None:
    """Nothing waits forever: messages stuck in "sending" are re-driven (a provider that de-duplicates)
    or marked "unknown"; messages for a booking never known here fail; contacts of long-closed
    bookings are forgotten."""
    idempotent = [p.name for p in sms_providers.configured(settings) if p.idempotent]
    async with pool_getter().acquire() as conn:
        unknown, redriven = await repository.time_out_sending(conn, settings.sending_timeout_seconds, idempotent)
        orphans = await repository.fail_orphans(conn, settings.orphan_after_hours)
        forgotten = await repository.forget_contacts(conn, closed_days_ago=settings.contact_retention_days)
    if unknown:
        log.warning("messages interrupted while sending marked unknown", count=unknown)
    if redriven:
        log.warning("messages interrupted while sending re-driven with their idempotency key", count=redriven)
    if orphans:
        log.warning("messages for bookings never known here failed", count=orphans)
    if forgotten:
        log.info("contact details removed after the retention period", count=forgotten,
                 days=settings.contact_retention_days)


async def sweep_forever(*, pool_getter, settings: NotifySettings, every_seconds: float = 30.0) -> None:
    while True:
        await sweep(pool_getter=pool_getter, settings=settings)
        await asyncio.sleep(every_seconds)
