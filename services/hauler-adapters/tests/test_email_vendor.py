"""A dispatch office that works from email: a clear email per booking, answered by one click or a reply."""
from __future__ import annotations

import httpx
import pytest

from haulbridge_runtime.topics import EventType
from hauler_adapters.replies import NotUnderstood, read_reply
from test_dispatch import booking_requested, hauler_events, publish


def _reply(first_line: str, subject: str = "Re: New junk pickup JP-2026-000042 on Mon 07 Dec 2026") -> bytes:
    return (f"From: office@eastside-junk.example\r\nSubject: {subject}\r\n\r\n{first_line}\r\n\r\n"
            f"On the city's email:\r\n> Reference: JP-2026-000042\r\n> DONE means collected\r\n").encode()


async def test_each_booking_is_one_clear_email_and_the_office_answers_by_link_and_by_reply(
        adapters_http, email_settings, office, adapter_port):
    requested = booking_requested(hauler_id="eastside-junk")
    await publish(email_settings, requested)
    await publish(email_settings, requested)  # redelivered: still one email
    [accepted] = await hauler_events(email_settings, expect=1)
    assert accepted["type"] == EventType.DISPATCH_ACCEPTED and accepted["data"]["hauler_reference"] == "JP-2026-000042"
    [email] = office.emails
    assert email["subject"].startswith("New junk pickup JP-2026-000042 on ")
    assert "200 E Santa Clara St" in email["text"] and "1 × Sofa or couch" in email["text"]
    assert {a["content_type"] for a in email["attachments"]} == {"text/csv", "text/calendar"}
    calendar = next(a["content"] for a in email["attachments"] if a["content_type"] == "text/calendar")
    assert "SUMMARY:Junk pickup JP-2026-000042" in calendar
    [link] = email["links"]
    assert link.startswith(f"http://127.0.0.1:{adapter_port}/vendor/eastside-junk/jobs/")

    async with httpx.AsyncClient() as client:
        page = await client.get(link)
        assert page.status_code == 200 and "JP-2026-000042" in page.text and 'id="missed"' in page.text
        forged = await client.post(link[:-3] + "xyz/done")
        assert forged.status_code == 404 and forged.headers["content-type"] == "application/problem+json"
        clicked = await client.post(f"{link}/confirm", data={"window_from": "10:00", "window_to": "14:00"})
        assert clicked.json()["outcome"] == "applied"
        again = await client.post(f"{link}/confirm", data={})
        assert again.json()["outcome"] == "stale"  # clicked twice: one confirmation

    await office.reply(email, "DONE")  # the dispatcher replies, quoting the email
    events = await hauler_events(email_settings, expect=3)
    assert [e["type"] for e in events] == [EventType.DISPATCH_ACCEPTED, EventType.PICKUP_CONFIRMED,
                                           EventType.PICKUP_COMPLETED]
    assert events[1]["data"]["window"] == {"from": "10:00", "to": "14:00"}


async def test_the_office_proposes_another_day_and_a_stranger_cannot_answer_for_it(
        adapters_http, email_settings, office):
    requested = booking_requested(hauler_id="eastside-junk")
    await publish(email_settings, requested)
    await hauler_events(email_settings, expect=1)
    [email] = office.emails
    async with httpx.AsyncClient() as client:
        bad_day = await client.post(f"{email['links'][0]}/propose", data={"new_date": "next week"})
        assert bad_day.status_code == 422
        moved = await client.post(f"{email['links'][0]}/propose", data={"new_date": "2026-12-16",
                                                                        "reason": "truck in the shop"})
        assert moved.json()["outcome"] == "applied"
    stranger = dict(email, reply_to=email["reply_to"])
    office.settings.office_address, real = "someone@else.example", office.settings.office_address
    await office.reply(stranger, "MISSED nobody home")  # not from the office's address: ignored
    office.settings.office_address = real
    events = await hauler_events(email_settings, expect=3, timeout=3)
    assert [e["type"] for e in events] == [EventType.DISPATCH_ACCEPTED, EventType.PICKUP_RESCHEDULED]
    assert events[1]["data"]["pickup_date"] == "2026-12-16" and events[1]["data"]["reason"] == "truck in the shop"


@pytest.mark.parametrize("first_line, status, detail", [
    ("CONFIRM", "confirmed", None),
    ("ok, see you then", "confirmed", None),
    ("DATE 2026-12-09", "rescheduled", "2026-12-09"),
    ("Done.", "completed", None),
    ("MISSED gate locked", "missed", "gate locked"),
    ("not done - dog in the yard", "missed", "dog in the yard"),
])
def test_a_reply_is_read_from_its_first_line_above_the_quote(first_line, status, detail):
    reply = read_reply(_reply(first_line))
    assert (reply.reference, reply.report.status) == ("JP-2026-000042", status)
    assert detail in (None, reply.report.pickup_date, reply.report.reason)


@pytest.mark.parametrize("raw, why", [
    (_reply("DONE", subject="Re: your pickup").replace(b"JP-2026-000042", b"(no ref)"), "no booking reference"),
    (_reply("will call you tomorrow"), "is not CONFIRM"),
    (_reply("DATE soon"), "DATE needs a day"),
])
def test_a_reply_that_cannot_be_understood_says_why(raw, why):
    with pytest.raises(NotUnderstood, match=why):
        read_reply(raw)
