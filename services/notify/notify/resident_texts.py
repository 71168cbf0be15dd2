"""What a resident's text to the city's number means, and what we do about it.

| the resident texts | meaning | what happens | reply |
|---|---|---|---|
| STOP (STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, ALTO, PARAR, DUNG, NGUNG) | stop | no more SMS to this number, any booking | ``reply_stopped`` |
| START (UNSTOP, INICIAR, BATDAU) | start | SMS again | ``reply_started`` |
| HELP (INFO, AYUDA, GIUP) | help | — | ``reply_help`` |
| C | items out | ``resident.items-out-confirmed`` for the upcoming pickup | ``reply_items_out`` |
| anything else | not understood | recorded | ``reply_not_understood`` |

The whole text or its first word counts, in any case, accents ignored ("Dừng" is DUNG, "Bắt
đầu" is BATDAU). Opt-outs are per
phone number, as carriers require. A text is handled once however often the provider delivers
its webhook. Replies are messages like any other (in the resident's language, exactly once,
recorded), pinned to the provider the text came through, and go even after STOP and at night:
the resident has just written to us. A number with no booking here gets its STOP/START honoured
and no reply.
"""
from __future__ import annotations

import unicodedata

import asyncpg

from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.logs import get_logger, mask_phone
from haulbridge_runtime.outbox import add_event
from haulbridge_runtime.topics import EventType

from . import repository
from .sms_providers import InboundText

log = get_logger(__name__)

SOURCE = "/haulbridge/notify"

KEYWORDS = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ALTO", "PARAR", "DUNG", "NGUNG"),
                    "stop"),
    **dict.fromkeys(("START", "UNSTOP", "INICIAR", "BATDAU"), "start"),
    **dict.fromkeys(("HELP", "INFO", "AYUDA", "GIUP"), "help"),
    "C": "items_out",
}
REPLIES = {"stop": "reply_stopped", "start": "reply_started", "help": "reply_help", "items_out": "reply_items_out",
           "not_understood": "reply_not_understood"}


def _plain(text: str) -> str:
    """Upper-case letters and digits only, accents dropped: "Dừng!" → "DUNG"."""
    text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if c.isascii() and c.isalnum()).upper()


def keyword(body: str) -> str:
    """What a text means: the whole text as one word ("Bắt đầu"), else its first word ("stop please")."""
    words = body.split()
    if not words:
        return "not_understood"
    return KEYWORDS.get(_plain(body)) or KEYWORDS.get(_plain(words[0]), "not_understood")


async def receive(pool: asyncpg.Pool, text: InboundText, *, provider: str) -> str | None:
    """Act on one inbound text; the meaning, or None when this text was already handled."""
    meaning = keyword(text.body)
    async with pool.acquire() as conn, conn.transaction():
        booking = await repository.booking_of_phone(conn, text.phone)
        booking_id = booking["booking_id"] if booking else None
        if not await repository.record_inbound(conn, provider=provider, provider_message_id=text.provider_message_id,
                                               phone=text.phone, body=text.body, keyword=meaning,
                                               booking_id=booking_id):
            return None
        if meaning == "stop":
            await repository.opt_out_of_sms(conn, text.phone)
        elif meaning == "start":
            await repository.opt_in_to_sms(conn, text.phone)
        if booking is None:
            log.info("text from a number with no booking here", phone=mask_phone(text.phone), meaning=meaning)
            return meaning
        if meaning == "items_out":
            await add_event(conn, new_event(
                type=EventType.ITEMS_OUT_CONFIRMED, source=SOURCE, subject=str(booking_id),
                correlation_id=booking["correlation_id"],
                data={"booking_id": str(booking_id), "pickup_date": booking["pickup_date"].isoformat(),
                      "channel": "sms"}))
        await repository.create_notification(
            conn, booking_id=booking_id, kind=REPLIES[meaning], channel="sms",
            occurrence=f"{provider}:{text.provider_message_id}",
            context={"pickup_date": booking["pickup_date"].isoformat()},
            correlation_id=booking["correlation_id"], provider=provider)
    log.info("text from a resident", phone=mask_phone(text.phone), meaning=meaning, booking_id=str(booking_id))
    return meaning
