"""A development mail server: receives mail over real SMTP (aiosmtpd) and lists it as JSON.

    SMTP on SIM_SMTP_SMTP_PORT (1025); HTTP on SIM_SMTP_HTTP_PORT (8025):
    GET    /messages          everything received, newest last (optionally ?to=address)
    DELETE /messages          forget everything

    python -m haulbridge_simulators.smtp_sink
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmtpSinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    smtp_port: int = 1025
    http_port: int = 8025


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.lock = threading.Lock()

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
        return "250 Message accepted for delivery"


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
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=s.host, port=s.smtp_port)
    controller.start()
    try:
        uvicorn.run(build_http_app(mailbox), host=s.host, port=s.http_port, log_level="warning")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
