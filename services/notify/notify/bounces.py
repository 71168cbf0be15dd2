"""Email bounces and delivery reports, read from the delivery status notifications mail servers
send back (RFC 3464 ``multipart/report; report-type=delivery-status``).

Every email leaves with its own return path, ``bounces+<notification id>@NOTIFY_BOUNCE_DOMAIN``
(VERP), so a report names the message it is about even when it quotes nothing of it. Notify
receives reports over SMTP on ``NOTIFY_BOUNCE_SMTP_PORT`` (the bounce domain's MX points there):
``Action: failed`` marks the message ``undelivered`` with the status and the remote server's
words, ``delivered``/``relayed`` mark it ``delivered``; ``delayed`` changes nothing yet. A report
for a message we do not know is accepted and ignored (it must not bounce back).
"""
from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.smtp import SMTP, Envelope, Session

from haulbridge_runtime import smtp
from haulbridge_runtime.logs import get_logger

from . import repository
from .settings import NotifySettings

log = get_logger(__name__)

DELIVERY = {"failed": "undelivered", "delivered": "delivered", "relayed": "delivered", "expanded": "delivered"}


def return_path(notification_id: uuid.UUID | str, settings: NotifySettings) -> str:
    return f"bounces+{notification_id}@{settings.bounce_domain}"


def notification_of(address: str, settings: NotifySettings) -> uuid.UUID | None:
    local, _, domain = address.partition("@")
    if domain.lower() != settings.bounce_domain.lower() or not local.startswith("bounces+"):
        return None
    try:
        return uuid.UUID(local.removeprefix("bounces+"))
    except ValueError:
        return None


def read_report(raw: bytes) -> list[tuple[str, str | None]]:
    """(delivery status, error) per recipient reported on; [] when it is not a delivery report."""
    message = message_from_bytes(raw, policy=policy.default)
    outcomes = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks: list[Message] = part.get_payload()
        for recipient in blocks[1:]:  # the first block is about the whole message
            delivery = DELIVERY.get((recipient.get("Action") or "").strip().lower())
            if delivery is None:
                continue
            error = None
            if delivery == "undelivered":
                diagnostic = " ".join((recipient.get("Diagnostic-Code") or "").split())
                error = f"bounced: {recipient.get('Status', '').strip()} {diagnostic}".strip()
            outcomes.append((delivery, error))
    return outcomes


class BounceHandler:
    """aiosmtpd handler: every report addressed to a return path updates that message."""

    def __init__(self, pool_getter, settings: NotifySettings) -> None:
        self.pool_getter = pool_getter
        self.settings = settings

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        outcomes = read_report(envelope.original_content or envelope.content)
        for address in envelope.rcpt_tos:
            notification_id = notification_of(address, self.settings)
            if notification_id is None or not outcomes:
                log.info("mail to the bounce address that is not a report on our message ignored")
                continue
            for delivery, error in outcomes:
                async with self.pool_getter().acquire() as conn:
                    changed = await repository.record_delivery(
                        conn, notification_id=notification_id, provider_message_id=None, status=delivery, error=error)
                log.info("email delivery report", notification_id=str(notification_id), delivery_status=delivery,
                         applied=changed)
        return "250 Report received"


async def receive_reports(pool_getter, settings: NotifySettings) -> None:
    """Serve the bounce address's SMTP endpoint until cancelled."""
    await smtp.serve(BounceHandler(pool_getter, settings), host=settings.bounce_smtp_host,
                     port=settings.bounce_smtp_port, hostname=settings.bounce_domain, what="delivery reports")
