"""Dispatch offices answering by email: replies to a dispatch email, received over SMTP.

The adapters listen on ``ADAPTERS_REPLY_SMTP_PORT`` (the MX of the email integrations'
``reply_to`` address). A reply names its job by the booking reference (``JP-2026-000123``, in the
subject or the text) and says what happened on its first line of text, above any quoted email:

    CONFIRM            (also YES, OK, CONFIRMED)
    DATE 2026-12-09    another day proposed (also PROPOSE 2026-12-09, RESCHEDULE ...)
    DONE               (also COLLECTED, COMPLETED)
    MISSED <reason>    (also NOT DONE <reason>)

The sender must be the integration's office address (``config.to``). A reply that cannot be
understood, or names a job we do not know, is answered 250 (so it does not bounce back at the
office) and logged with why, for staff to follow up. Each answer is applied with
:mod:`reports`, once and forward only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from email import message_from_bytes, policy
from email.utils import parseaddr

from aiosmtpd.smtp import SMTP, Envelope, Session

from haulbridge_runtime import smtp
from haulbridge_runtime.logs import get_logger

from . import reports, repository
from .settings import AdapterSettings
from .vendors.base import VendorReport

log = get_logger(__name__)

REFERENCE = re.compile(r"\bJP-\d{4}-\d{6}\b")
QUOTED = re.compile(r"^(>|On .* wrote:$)")
KEYWORDS = {
    **dict.fromkeys(("CONFIRM", "CONFIRMED", "YES", "OK"), "confirmed"),
    **dict.fromkeys(("DATE", "PROPOSE", "RESCHEDULE"), "rescheduled"),
    **dict.fromkeys(("DONE", "COLLECTED", "COMPLETED"), "completed"),
    **dict.fromkeys(("MISSED", "NOT"), "missed"),
}


@dataclass(frozen=True)
class Reply:
    reference: str
    report: VendorReport


class NotUnderstood(ValueError):
    pass


def read_reply(raw: bytes) -> Reply:
    """What a dispatcher's reply says; :class:`NotUnderstood` with why."""
    message = message_from_bytes(raw, policy=policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body else ""
    found = REFERENCE.search(f"{message['Subject'] or ''}\n{text}")
    if not found:
        raise NotUnderstood("no booking reference (JP-yyyy-nnnnnn) in the subject or the text")
    lines = [line.strip() for line in text.splitlines()]
    first = next((line for line in lines if line and not QUOTED.match(line)), "")
    word, _, rest = first.partition(" ")
    status = KEYWORDS.get(re.sub(r"\W+$", "", word.upper()))
    if status is None:
        raise NotUnderstood(f"the first line {first[:60]!r} is not CONFIRM, DATE yyyy-mm-dd, DONE or MISSED")
    reference = found.group(0)
    if status == "rescheduled":
        day = re.search(r"\d{4}-\d{2}-\d{2}", rest)
        try:
            proposed = date.fromisoformat(day.group(0)) if day else None
        except ValueError:
            proposed = None
        if proposed is None:
            raise NotUnderstood("DATE needs a day written yyyy-mm-dd")
        return Reply(reference, VendorReport(external_ref=reference, status=status, pickup_date=proposed.isoformat()))
    if status == "missed":
        reason = re.sub(r"^DONE\b", "", rest, flags=re.I) if word.upper() == "NOT" else rest
        reason = reason.strip(" -:;,.")
        return Reply(reference, VendorReport(external_ref=reference, status=status,
                                             reason=reason or "the hauler reported the pickup missed"))
    return Reply(reference, VendorReport(external_ref=reference, status=status))


class ReplyHandler:
    def __init__(self, pool_getter) -> None:
        self.pool_getter = pool_getter

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        sender = parseaddr(message_from_bytes(raw, policy=policy.default)["From"] or "")[1].lower()
        try:
            reply = read_reply(raw)
        except NotUnderstood as exc:
            log.warning("dispatch reply not understood; staff to follow up", reason=str(exc))
            return "250 Received; not understood"
        pool = self.pool_getter()
        async with pool.acquire() as conn:
            hauler_id = await repository.hauler_of_reference(conn, reply.reference)
            integration = await repository.get_integration(conn, hauler_id) if hauler_id else None
        if integration is None or integration.kind != "email" or sender != integration.config.get("to", "").lower():
            log.warning("dispatch reply for a job not sent to this address ignored", reference=reply.reference)
            return "250 Received; not for a job of yours"
        outcome = await reports.receive(pool, hauler_id, reply.report)
        log.info("dispatch reply", hauler_id=hauler_id, reference=reply.reference, status=reply.report.status,
                 outcome=outcome)
        return "250 Thank you"


async def receive_replies(pool_getter, settings: AdapterSettings) -> None:
    """Serve the reply address's SMTP endpoint until cancelled."""
    await smtp.serve(ReplyHandler(pool_getter), host=settings.reply_smtp_host, port=settings.reply_smtp_port,
                     hostname="replies.haulbridge", what="dispatch replies")
