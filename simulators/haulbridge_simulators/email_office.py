"""A dispatch office that works from email ("Eastside Junk Dispatch"): its mail server receives
the city's dispatch emails over real SMTP, and its dispatcher answers the way real ones do —
clicking the confirm link in the email, then replying "DONE" (or "MISSED Gate locked" for an
address containing "NO ACCESS") to the email, over SMTP, to its Reply-To.

    SMTP on SIM_OFFICE_SMTP_PORT (2528)            the office's inbox
    GET  /_sim/emails   (SIM_OFFICE_HTTP_PORT 8104)   every dispatch email, with its links and attachments
    GET  /_sim/stats                                   emails and distinct idempotency keys per reference

The dispatcher answers after SIM_OFFICE_CONFIRM_DELAY and SIM_OFFICE_COMPLETE_DELAY seconds;
SIM_OFFICE_AUTO_ANSWER=false leaves the answering to a test. Replies go to SIM_OFFICE_REPLY_HOST
and SIM_OFFICE_REPLY_PORT (the MX of the Reply-To address).

    python -m haulbridge_simulators.email_office
"""
from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

import aiosmtplib
import httpx
import uvicorn
from aiosmtpd.smtp import SMTP
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict

LINK = re.compile(r"https?://\S+/vendor/\S+/jobs/[\w.\-]+")


class EmailOfficeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_OFFICE_", extra="ignore")

    host: str = "127.0.0.1"
    smtp_port: int = 2528
    http_port: int = 8104
    office_address: str = "office@eastside-junk.example"
    reply_host: str = "127.0.0.1"
    reply_port: int = 2527
    auto_answer: bool = True
    confirm_delay: float = 1.0
    complete_delay: float = 3.0


class Office:
    """The inbox and the dispatcher."""

    def __init__(self, settings: EmailOfficeSettings) -> None:
        self.settings = settings
        self.emails: list[dict] = []
        self.keys: dict[str, set[str]] = defaultdict(set)
        self.tasks: set[asyncio.Task] = set()
        self.server: asyncio.AbstractServer | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        text = message.get_body(preferencelist=("plain",))
        body = text.get_content() if text else ""
        reference = str(message["X-Haulbridge-Reference"] or "")
        email = {"reference": reference, "subject": str(message["Subject"]), "from": str(message["From"]),
                 "reply_to": str(message["Reply-To"]), "message_id": str(message["Message-ID"]),
                 "idempotency_key": str(message["X-Haulbridge-Idempotency-Key"] or ""), "text": body,
                 "links": LINK.findall(body),
                 "attachments": [{"filename": part.get_filename(), "content_type": part.get_content_type(),
                                  "content": part.get_content() if part.get_content_maintype() == "text" else None}
                                 for part in message.iter_attachments()]}
        first_time = email["idempotency_key"] not in self.keys[reference]
        self.emails.append(email)
        self.keys[reference].add(email["idempotency_key"])
        if self.settings.auto_answer and first_time and email["links"]:
            task = asyncio.create_task(self._dispatcher(email, message))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return "250 Message accepted"

    async def _dispatcher(self, email: dict, message: EmailMessage) -> None:
        await asyncio.sleep(self.settings.confirm_delay)
        async with httpx.AsyncClient(timeout=10) as client:
            await client.post(f"{email['links'][0]}/confirm", data={"window_from": "10:00", "window_to": "14:00"})
        await asyncio.sleep(self.settings.complete_delay)
        answer = "MISSED Gate locked" if "NO ACCESS" in email["text"].upper() else "DONE"
        await self.reply(email, answer)

    async def reply(self, email: dict, first_line: str) -> None:
        """Reply as a dispatcher does: a line on top, the original quoted below."""
        reply = EmailMessage()
        reply["From"] = self.settings.office_address
        reply["To"] = email["reply_to"]
        reply["Subject"] = f"Re: {email['subject']}"
        reply["In-Reply-To"] = email["message_id"]
        reply["Message-ID"] = make_msgid(domain="eastside-junk.example")
        quoted = "\n".join(f"> {line}" for line in email["text"].splitlines())
        reply.set_content(f"{first_line}\n\nOn the city's email:\n{quoted}\n")
        await aiosmtplib.send(reply, hostname=self.settings.reply_host, port=self.settings.reply_port,
                              sender=self.settings.office_address,
                              recipients=[parseaddr(email["reply_to"])[1]], timeout=10)

    async def start(self) -> "Office":
        self.server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(self, hostname="eastside-junk.example"), host=self.settings.host, port=self.settings.smtp_port)
        return self

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def build_http_app(office: Office) -> FastAPI:
    app = FastAPI(title="Eastside Junk Dispatch mailbox (simulator)")

    @app.get("/_sim/emails")
    async def emails():
        return office.emails

    @app.get("/_sim/stats")
    async def stats():
        return {"emails_per_reference": Counter(e["reference"] for e in office.emails),
                "idempotency_keys_per_reference": {ref: len(keys) for ref, keys in office.keys.items()}}

    return app


def main() -> None:
    settings = EmailOfficeSettings()

    async def serve() -> None:
        office = await Office(settings).start()
        server = uvicorn.Server(uvicorn.Config(build_http_app(office), host=settings.host, port=settings.http_port,
                                               log_level="warning"))
        try:
            await server.serve()
        finally:
            await office.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
