"""Email over SMTP (aiosmtplib), with the split between temporary and permanent failures."""
from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import aiosmtplib

from .settings import NotifySettings
from .templates_render import RenderedEmail


# How messages go on the wire. Python's header folding drops the space between two RFC 2047
# encoded-words when it breaks a long non-ASCII Subject over lines (a Vietnamese subject read
# "thu gomcủa bạn"); headers are therefore folded only past RFC 5322's hard limit of 998.
WIRE_POLICY = policy.SMTP.clone(max_line_length=998)


class TemporarySendError(Exception):
    """Worth retrying: connection problems, timeouts, 4xx SMTP replies."""


class PermanentSendError(Exception):
    """The provider refused the message for good (5xx SMTP reply)."""


def build_message(*, settings: NotifySettings, to: str, rendered: RenderedEmail, notification_id: str,
                  unsubscribe_url: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Message-ID"] = make_msgid(idstring=notification_id, domain="haulbridge.notify")
    msg["X-Haulbridge-Notification-Id"] = notification_id
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg["Content-Language"] = rendered.language  # after set_content, which drops Content-* headers
    return msg


async def send(message: EmailMessage, *, settings: NotifySettings, return_path: str | None = None) -> None:
    """``return_path``: the envelope sender, where bounces and delivery reports go."""
    try:
        await aiosmtplib.send(message.as_bytes(policy=WIRE_POLICY),
                              sender=return_path or parseaddr(message["From"])[1],
                              recipients=[parseaddr(message["To"])[1]], hostname=settings.smtp_host,
                              port=settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        code = exc.recipients[0].code if exc.recipients else 550
        error = TemporarySendError if 400 <= code < 500 else PermanentSendError
        raise error(f"recipient refused: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if 400 <= exc.code < 500:
            raise TemporarySendError(f"SMTP {exc.code}: {exc.message}") from exc
        raise PermanentSendError(f"SMTP {exc.code}: {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TemporarySendError(f"{type(exc).__name__}: {exc}") from exc
