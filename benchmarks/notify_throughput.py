"""Notify throughput: messages through notify (consume → render → send → record) against bare SMTP sends.

Baseline ("bare SMTP"): the same number of emails, already rendered, sent by aiosmtplib straight to
the same development mail server (the SMTP sink, its own process), by as many concurrent senders as
notify's sender uses (one batch).

Notify: the notify service as its own OS process, exactly as ``make run`` starts it. The benchmark
publishes one ``booking.requested`` per resident to ``booking.v1``; each becomes a "received" email
(and a day-before reminder scheduled for later, not sent in the run). After a warm-up of 50, the
rate is emails recorded ``sent`` per second, from the first event published to the last recorded.

Environment: BENCH_MESSAGES (default 1000).
"""
from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta


from devstack.stack import Platform
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.topics import EventType
from notify import mailer
from notify.settings import NotifySettings
from notify.templates_render import render_email

from .events import TIMEOUT, Side, publish_and_wait

CONCURRENCY = 20  # notify's sender takes up to this many due messages at once
WARMUP = 50  # messages through notify before measuring


@dataclass
class Result:
    smtp: Side
    notify: Side


def _requested(n: int, pickup: date):
    booking_id = str(uuid.uuid4())
    reference = f"JP-2026-{n:06d}"
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/booking", subject=booking_id, data={
        "booking_id": booking_id, "reference": reference, "hauler_id": "valley-haul", "zone_id": "downtown",
        "pickup_date": pickup.isoformat(), "target_date": pickup.isoformat(),
        "address": {"text": "200 E Santa Clara St, San Jose, CA 95113", "latitude": 37.3375, "longitude": -121.886},
        "items": [{"item": "sofa", "label": "Sofa or couch", "quantity": 1}],
        "contact": {"name": f"Resident {n}", "email": f"resident{n}@example.org", "phone": None,
                    "language": ("en", "es", "vi")[n % 3], "channels": ["email"]},
        "notes": None, "channel": "web", "manage_url": f"http://127.0.0.1:8001/v1/bookings/{reference}?token=t",
    })


async def bare_smtp(settings: NotifySettings, count: int) -> Side:
    rendered = render_email("booking_received", "es", {
        "name": "Resident", "reference": "JP-2026-000001", "manage_url": "http://127.0.0.1:8001/v1/bookings/x",
        "pickup_date": date.today() + timedelta(days=8)})
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def sender() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            message = mailer.build_message(settings=settings, to=f"baseline{n}@example.org", rendered=rendered,
                                           notification_id=str(uuid.uuid4()))
            await mailer.send(message, settings=settings)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(sender() for _ in range(CONCURRENCY))), TIMEOUT)
    return Side("bare SMTP sends (aiosmtplib)", count, time.perf_counter() - started)


async def through_notify(platform: Platform, count: int) -> Side:
    pickup = date.today() + timedelta(days=8)
    seconds = await publish_and_wait(platform, service="notify", schema="notify", warmup=WARMUP, count=count,
                                     make_event=lambda k: _requested(k, pickup),
                                     done_sql="SELECT count(*) FROM notifications WHERE status = 'sent'")
    return Side("through notify (event → email sent)", count, seconds)


def run(platform: Platform, runner: asyncio.Runner, *, say: Callable[[str], None]) -> Result:
    count = int(os.environ.get("BENCH_MESSAGES") or 1000)
    platform.start("smtp-sink", env={"SIM_SMTP_DELIVERY_REPORTS": "false"})  # the same work on both sides
    settings = NotifySettings(smtp_port=platform.ports.smtp)
    say(f"notify: {count} bare SMTP sends to the mail server ({CONCURRENCY} at a time) ...")
    smtp = runner.run(bare_smtp(settings, count))
    say(f"notify: {count} booking.requested events through the notify service ...")
    platform.start("notify")
    try:
        via_notify = runner.run(through_notify(platform, count))
    finally:
        platform.stop("notify")
    return Result(smtp=smtp, notify=via_notify)


def report(result: Result) -> str:
    lines = ["", f"Notify throughput: {result.smtp.count} emails per side, same SMTP server (the dev mail sink)",
             "", f"{'':40}{'emails/s':>10}{'seconds':>10}"]
    for side in (result.smtp, result.notify):
        lines.append(f"{side.name:40}{side.rate:10.1f}{side.seconds:10.1f}")
    ratio = result.notify.rate / result.smtp.rate if result.smtp.rate else 0.0
    lines += ["", f"notify / bare SMTP throughput: {ratio:.2f}"]
    return "\n".join(lines)
