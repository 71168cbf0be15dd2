"""Haulers whose dispatch office works from email (kind ``email``; the demo's Eastside Junk Dispatch).

Each booking becomes one clear email to the office (``config.to``) over SMTP (``base_url``
``smtp://host:port``): plain text with an HTML alternative, the booking as a one-line CSV
attachment and an iCalendar event for the pickup day. The dispatcher answers either with the
signed one-click links in it (confirm / propose another date / done / missed, served by
:mod:`hauler_adapters.vendor_pages`), or by replying with the reference and a keyword
(:mod:`hauler_adapters.replies`). Replies go to ``config.reply_to``, whose MX is the adapters'
SMTP endpoint. Links are signed with the secret in the environment variable named by the
integration's ``webhook_secret_env``.

SMTP has no idempotency key: the email carries ``X-Haulbridge-Idempotency-Key`` so a dispatcher
(and our simulator) can tell a replay after a crash from a new booking.
"""
from __future__ import annotations

import csv
import io
import os
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlsplit

import aiosmtplib
import icalendar
from itsdangerous import BadSignature, URLSafeSerializer

from .base import DispatchReceipt, Integration, InvalidIntegration, PickupJob, VendorRejected, VendorUnavailable
from .retrying import vendor_retrying

_SALT = "haulbridge.vendor-links"
ACTIONS = ("confirm", "propose", "done", "missed")
CSV_COLUMNS = ("reference", "pickup_date", "address", "items", "contact_name", "contact_phone", "notes")


def link_secret(integration: Integration) -> str:
    secret = os.environ.get(integration.webhook_secret_env or "", "")
    if not secret:
        raise InvalidIntegration(f"email integration '{integration.hauler_id}' needs its link secret in the "
                                 f"environment variable named by webhook_secret_env")
    return secret


def job_token(integration: Integration, booking_id: str) -> str:
    return URLSafeSerializer(link_secret(integration), salt=_SALT).dumps({"h": integration.hauler_id, "b": booking_id})


def booking_of_token(integration: Integration, token: str) -> str | None:
    """The booking id a link was made for, or None when it was not made by us for this hauler."""
    try:
        signed = URLSafeSerializer(link_secret(integration), salt=_SALT).loads(token)
    except BadSignature:
        return None
    return signed.get("b") if signed.get("h") == integration.hauler_id else None


class EmailOfficeAdapter:
    kind = "email"

    def __init__(self, integration: Integration, *, timeout: float, attempts: int, retry_initial: float,
                 retry_max: float) -> None:
        config = integration.config
        missing = [k for k in ("to", "from", "reply_to", "links_base_url") if not config.get(k)]
        server = urlsplit(integration.base_url or "")
        if missing or server.scheme != "smtp" or not server.hostname:
            raise InvalidIntegration(f"email integrations need base_url smtp://host:port and config "
                                     f"to, from, reply_to, links_base_url (missing: {', '.join(missing) or '-'})")
        link_secret(integration)
        self.integration = integration
        self.host, self.port = server.hostname, server.port or 25
        self.timeout = timeout
        self.retrying = dict(attempts=attempts, initial=retry_initial, maximum=retry_max)

    def links(self, booking_id: str) -> dict[str, str]:
        base = self.integration.config["links_base_url"].rstrip("/")
        page = f"{base}/vendor/{self.integration.hauler_id}/jobs/{job_token(self.integration, booking_id)}"
        return {"page": page, **{action: f"{page}#{action}" for action in ACTIONS}}

    def message(self, job: PickupJob) -> EmailMessage:
        config, links = self.integration.config, self.links(job.booking_id)
        day = date.fromisoformat(job.pickup_date)
        items = "\n".join(f"  - {i['quantity']} × {i['label']} ({i['item']})" for i in job.items)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Reply-To"] = config["from"], config["to"], config["reply_to"]
        msg["Subject"] = f"New junk pickup {job.reference} on {day:%a %d %b %Y}"
        msg["Message-ID"] = make_msgid(idstring=job.reference, domain="haulbridge.adapters")
        msg["X-Haulbridge-Reference"] = job.reference
        msg["X-Haulbridge-Idempotency-Key"] = job.idempotency_key
        text = (f"Please collect on {day:%A %d %B %Y}.\n\n"
                f"Reference: {job.reference}\nAddress:   {job.address['text']}\nItems:\n{items}\n"
                f"Resident:  {job.contact_name}{', ' + job.contact_phone if job.contact_phone else ''}\n"
                f"Notes:     {job.notes or '-'}\n\n"
                f"Answer with one click: {links['page']}\n"
                f"or reply to this email, keeping the reference, with one line:\n"
                f"  CONFIRM            we will collect on that day\n"
                f"  DATE 2026-12-09    we propose another day\n"
                f"  DONE               collected\n"
                f"  MISSED <reason>    we could not collect\n")
        msg.set_content(text)
        msg.add_alternative(_html(job, day, items, links), subtype="html")
        msg.add_attachment(_csv_line(job).encode(), maintype="text", subtype="csv",
                           filename=f"{job.reference}.csv")
        msg.add_attachment(_ics(job, day).encode(), maintype="text", subtype="calendar",
                           filename=f"{job.reference}.ics")
        return msg

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        message = self.message(job)
        async for attempt in vendor_retrying(**self.retrying):
            with attempt:
                await self._send(message)
        return DispatchReceipt(external_ref=job.reference, status="accepted",
                               raw={"message_id": message["Message-ID"]})

    async def cancel(self, external_ref: str, reason: str) -> None:
        await self._notice(external_ref, f"Cancelled: junk pickup {external_ref}",
                           f"The junk pickup {external_ref} is cancelled ({reason}). Please do not collect.\n")

    async def reschedule(self, external_ref: str, pickup_date: str) -> None:
        day = date.fromisoformat(pickup_date)
        await self._notice(external_ref, f"Moved: junk pickup {external_ref} is now on {day:%a %d %b %Y}",
                           f"The resident moved the junk pickup {external_ref} to {day:%A %d %B %Y}.\n"
                           f"Answer as before: the links in the first email still work, or reply with the "
                           f"reference and CONFIRM, DATE yyyy-mm-dd, DONE or MISSED.\n")

    async def _notice(self, reference: str, subject: str, text: str) -> None:
        config = self.integration.config
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Reply-To"] = config["from"], config["to"], config["reply_to"]
        msg["Subject"] = subject
        msg["Message-ID"] = make_msgid(idstring=reference, domain="haulbridge.adapters")
        msg["X-Haulbridge-Reference"] = reference
        msg.set_content(text)
        async for attempt in vendor_retrying(**self.retrying):
            with attempt:
                await self._send(msg)

    async def _send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=self.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise VendorRejected(f"the office address was refused: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise VendorRejected(f"SMTP {exc.code}: {exc.message}") from exc
            raise VendorUnavailable(f"SMTP {exc.code}: {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise VendorUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        return None


def _csv_line(job: PickupJob) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerow([job.reference, job.pickup_date, job.address["text"],
                     "; ".join(f"{i['quantity']} {i['item']}" for i in job.items), job.contact_name,
                     job.contact_phone or "", job.notes or ""])
    return out.getvalue()


def _ics(job: PickupJob, day: date) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Haulbridge//junk pickup//EN")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"{job.booking_id}@haulbridge")
    event.add("summary", f"Junk pickup {job.reference}")
    event.add("location", job.address["text"])
    event.add("description", ", ".join(f"{i['quantity']} × {i['label']}" for i in job.items))
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("dtstamp", datetime.now().astimezone())
    calendar.add_component(event)
    return calendar.to_ical().decode()


def _html(job: PickupJob, day: date, items: str, links: dict[str, str]) -> str:
    from html import escape

    rows = "".join(f"<li>{escape(line.strip(' -'))}</li>" for line in items.splitlines())
    return (f"<p>Please collect on <strong>{day:%A %d %B %Y}</strong>.</p>"
            f"<p>Reference: <strong>{escape(job.reference)}</strong><br>Address: {escape(job.address['text'])}<br>"
            f"Resident: {escape(job.contact_name)} {escape(job.contact_phone or '')}<br>"
            f"Notes: {escape(job.notes or '-')}</p><ul>{rows}</ul>"
            f"<p><a href=\"{escape(links['page'])}\">Confirm, propose another date, or report it done or "
            f"missed</a></p><p>Or reply to this email with CONFIRM, DATE yyyy-mm-dd, DONE or MISSED and a "
            f"reason.</p>")
