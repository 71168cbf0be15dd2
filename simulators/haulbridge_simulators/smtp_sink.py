"""A development mail server: receives mail over real SMTP (aiosmtpd) and lists it as JSON.

    SMTP on SIM_SMTP_SMTP_PORT (1025); HTTP on SIM_SMTP_HTTP_PORT (8025):
    GET    /messages          everything received, newest last (optionally ?to=address)
    DELETE /messages          forget everything

Like a real relay it reports back to the envelope sender (the return path) with delivery status
notifications (RFC 3464 ``multipart/report``), sent over SMTP to SIM_SMTP_RETURN_HOST and
SIM_SMTP_RETURN_PORT (the bounce handler's MX) when that port is set: mail to a domain in
SIM_SMTP_BOUNCE_DOMAINS (``bounce.example``) bounces ("failed", 5.1.1 no such user), and
everything else gets a "delivered" report when SIM_SMTP_DELIVERY_REPORTS is on (the default).

    python -m haulbridge_simulators.smtp_sink
"""
from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import make_msgid

import aiosmtplib

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmtpSinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    smtp_port: int = 1025
    http_port: int = 8025
    return_host: str = "127.0.0.1"
    return_port: int | None = None
    bounce_domains: str = "bounce.example"  # comma-separated
    delivery_reports: bool = True


def _fields(**fields: str) -> Message:
    block = Message()
    for name, value in fields.items():
        block[name.replace("_", "-")] = value
    return block


def delivery_report(original: EmailMessage, *, recipient: str, action: str, status: str, diagnostic: str) -> bytes:
    """An RFC 3464 delivery status notification about ``original`` for one recipient."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <mailer-daemon@sink.haulbridge.example>"
    report["Subject"] = ("Delivery Status Notification (Failure)" if action == "failed"
                         else "Delivery Status Notification (Success)")
    report["Message-ID"] = make_msgid(domain="sink.haulbridge.example")
    report.attach(MIMEText(f"Your message to {recipient} was {'not ' if action == 'failed' else ''}delivered.\n"))
    notice = MIMEBase("message", "delivery-status")
    notice.set_payload([_fields(Reporting_MTA="dns; sink.haulbridge.example"),
                        _fields(Final_Recipient=f"rfc822; {recipient}", Action=action, Status=status,
                                Diagnostic_Code=f"smtp; {diagnostic}")])
    report.attach(notice)
    headers = "".join(f"{k}: {v}\n" for k, v in original.items() if k.lower() in ("message-id", "subject", "to"))
    report.attach(MIMEText(headers, "rfc822-headers"))
    return report.as_bytes()


class Mailbox:
    def __init__(self, *, return_host: str = "127.0.0.1", return_port: int | None = None,
                 bounce_domains: tuple[str, ...] = ("bounce.example",), delivery_reports: bool = True) -> None:
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        self.return_host, self.return_port = return_host, return_port
        self.bounce_domains = bounce_domains
        self.delivery_reports = delivery_reports
        self.reports_sent: list[dict] = []
        self._tasks: set[asyncio.Task] = set()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        record = {
            "received_at": datetime.now(UTC).isoformat(),
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "headers": {k: str(v).strip() for k, v in msg.items()},
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        with self.lock:
            self.messages.append(record)
        if self.return_port and envelope.mail_from:  # "<>" (a report itself) is never reported on
            for recipient in envelope.rcpt_tos:
                task = asyncio.create_task(self._report(msg, envelope.mail_from, recipient))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return "250 Message accepted for delivery"

    async def _report(self, original: EmailMessage, return_path: str, recipient: str) -> None:
        if recipient.rsplit("@", 1)[-1].lower() in self.bounce_domains:
            action, status, diagnostic = "failed", "5.1.1", "550 5.1.1 The email account does not exist"
        elif self.delivery_reports:
            action, status, diagnostic = "delivered", "2.0.0", "250 2.0.0 OK"
        else:
            return
        report = delivery_report(original, recipient=recipient, action=action, status=status, diagnostic=diagnostic)
        await asyncio.sleep(0.05)  # after the sender has heard "250"
        for attempt in range(10):
            try:
                async with aiosmtplib.SMTP(hostname=self.return_host, port=self.return_port, timeout=10) as smtp:
                    await smtp.sendmail("", [return_path], report)  # MAIL FROM:<>, as reports are sent
                with self.lock:
                    self.reports_sent.append({"to": return_path, "recipient": recipient, "action": action})
                return
            except (aiosmtplib.SMTPException, OSError):
                await asyncio.sleep(min(0.2 * 2 ** attempt, 5))


def build_http_app(mailbox: Mailbox) -> FastAPI:
    app = FastAPI(title="Haulbridge development mail sink")

    @app.get("/messages")
    async def messages(to: str | None = None):
        with mailbox.lock:
            items = list(mailbox.messages)
        if to:
            items = [m for m in items if to in m["rcpt_to"]]
        return items

    @app.delete("/messages", status_code=204)
    async def clear():
        with mailbox.lock:
            mailbox.messages.clear()

    return app


def main() -> None:
    s = SmtpSinkSettings()
    mailbox = Mailbox(return_host=s.return_host, return_port=s.return_port, delivery_reports=s.delivery_reports,
                      bounce_domains=tuple(d.strip().lower() for d in s.bounce_domains.split(",") if d.strip()))
    controller = Controller(mailbox, hostname=s.host, port=s.smtp_port)
    controller.start()
    try:
        uvicorn.run(build_http_app(mailbox), host=s.host, port=s.http_port, log_level="warning")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
