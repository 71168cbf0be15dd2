"""Residents are emailed once per message, however often an event is redelivered."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY
from datetime import date, timedelta

from devstack.infra import free_port
from devstack.testing import eventually, in_process
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.topics import EventType
from notify.app import build_app
from notify.events import KINDS, remind_at
from notify.sender import sweep
from notify.templates_render import LANGUAGES, render_email
from notify_events import booking_events, publish


async def _statuses(notify) -> list[tuple]:
    """The emails that go out when their event comes (the day-before reminder waits; see its own tests)."""
    async with notify.pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch(
            "SELECT kind, status FROM notifications WHERE kind <> 'pickup_reminder' AND channel = 'email'"
            " ORDER BY created_at")]


async def _reminders(notify) -> list[dict]:
    async with notify.pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(
            "SELECT occurrence, status, next_attempt_at, error FROM notifications WHERE kind = 'pickup_reminder'"
            " AND channel = 'email'"
            " ORDER BY created_at")]


async def test_the_reminder_waits_in_the_database_for_the_evening_before_and_goes_once(
        notify, notify_settings, mailbox):
    requested, _confirmed = booking_events(language="es")
    pickup = date.fromisoformat(requested.data["pickup_date"])
    await publish(notify_settings, requested, requested)
    await eventually(lambda: _kinds_sent(notify, 1), what="the received email")
    [reminder] = await _reminders(notify)
    assert (reminder["occurrence"], reminder["status"]) == (pickup.isoformat(), "created")
    assert reminder["next_attempt_at"] == remind_at(pickup, notify_settings)  # 17:00 the day before, city time
    assert len(mailbox.messages) == 1  # not before its time

    # The clock reaches the evening before the pickup.
    async with notify.pool.acquire() as conn:
        await conn.execute("UPDATE notifications SET next_attempt_at = now() WHERE kind = 'pickup_reminder'")
    await eventually(lambda: _reminder_sent(notify), what="the reminder")
    await asyncio.sleep(1)
    assert [m["subject"] for m in mailbox.messages][1:] == ["Recordatorio: su recolección es mañana (JP-2026-000077)"]
    assert "llantas" in mailbox.messages[1]["text"]  # what not to put out


async def test_moving_the_pickup_moves_the_reminder_and_cancelling_withdraws_it(notify, notify_settings):
    requested, _confirmed = booking_events()
    data = requested.data
    first = date.fromisoformat(data["pickup_date"])
    later = first + timedelta(days=7)
    moved = new_event(type=EventType.BOOKING_RESCHEDULED, source="/haulbridge/booking", subject=requested.subject,
                      data={"booking_id": data["booking_id"], "reference": data["reference"], "hauler_id": "valley-haul",
                            "previous_pickup_date": first.isoformat(), "pickup_date": later.isoformat(),
                            "target_date": later.isoformat(), "by": "resident"})
    await publish(notify_settings, requested, moved)
    await eventually(lambda: _reminder_count(notify, 2), what="a reminder for the new date")
    old, new = await _reminders(notify)
    assert (old["occurrence"], old["status"], old["error"]) == (first.isoformat(), "withdrawn", "the pickup moved")
    assert (new["occurrence"], new["status"]) == (later.isoformat(), "created")
    assert new["next_attempt_at"] == remind_at(later, notify_settings)

    back = new_event(type=EventType.BOOKING_RESCHEDULED, source="/haulbridge/booking", subject=requested.subject,
                     data={**moved.data, "previous_pickup_date": later.isoformat(), "pickup_date": first.isoformat(),
                           "target_date": first.isoformat()})
    await publish(notify_settings, back)  # moved back to the first date: its reminder is scheduled again
    await eventually(lambda: _reminder_withdrawn(notify, later), what="the later reminder to be withdrawn")
    assert [(r["occurrence"], r["status"]) for r in await _reminders(notify)] == [
        (first.isoformat(), "created"), (later.isoformat(), "withdrawn")]

    cancelled = new_event(type=EventType.BOOKING_CANCELLED, source="/haulbridge/booking", subject=requested.subject,
                          data={"booking_id": data["booking_id"], "reference": data["reference"],
                                "hauler_id": "valley-haul", "pickup_date": first.isoformat(), "by": "resident"})
    await publish(notify_settings, cancelled)
    await eventually(lambda: _reminder_withdrawn(notify, first), what="the reminder to be withdrawn")
    assert (await _reminders(notify))[0]["error"] == "the booking was cancelled"


async def _reminder_sent(notify) -> bool:
    return [r["status"] for r in await _reminders(notify)] == ["sent"]


async def _reminder_count(notify, count: int) -> bool:
    return len(await _reminders(notify)) == count


async def _reminder_withdrawn(notify, day: date) -> bool:
    return any(r["occurrence"] == day.isoformat() and r["status"] == "withdrawn" for r in await _reminders(notify))


async def test_a_confirmation_redelivered_three_times_is_emailed_once(notify, notify_settings, mailbox):
    requested, confirmed = booking_events()
    await publish(notify_settings, requested, confirmed, confirmed, confirmed)
    await eventually(lambda: _kinds_sent(notify, 2), what="the two emails to be sent")
    # booking.v1 and hauler.v1 are consumed independently, so the two may be created in either order.
    assert sorted(await _statuses(notify)) == [("booking_received", "sent"), ("pickup_confirmed", "sent")]
    assert len(mailbox.messages) == 2
    received, confirmation = sorted(mailbox.messages, key=lambda m: "está confirmada" in m["subject"])
    assert confirmation["rcpt_to"] == ["maria@example.org"]
    assert "08:00" in confirmation["text"] and "JP-2026-000077" in confirmation["text"]
    # María chose Spanish: subject, body, dates and the layout are in Spanish.
    assert confirmation["headers"]["Content-Language"] == "es"
    assert confirmation["subject"] == "Su recolección está confirmada (JP-2026-000077)"
    assert "Hola María" in confirmation["text"] and "entre las 08:00 y las 12:00" in confirmation["text"]
    assert received["subject"] == "Hemos recibido su solicitud de recolección (JP-2026-000077)"


async def test_each_change_of_date_is_told_once_and_a_cancellation_after_it(notify, notify_settings, mailbox):
    requested, _confirmed = booking_events(language="vi")
    data = requested.data
    moved = [new_event(type=EventType.BOOKING_RESCHEDULED, source="/haulbridge/booking", subject=requested.subject,
                       data={"booking_id": data["booking_id"], "reference": data["reference"],
                             "hauler_id": "valley-haul", "previous_pickup_date": data["pickup_date"],
                             "pickup_date": day.isoformat(), "target_date": day.isoformat(), "by": by})
             for day, by in ((date(2027, 1, 12), "hauler"), (date(2027, 1, 19), "resident"))]
    cancelled = new_event(type=EventType.BOOKING_CANCELLED, source="/haulbridge/booking", subject=requested.subject,
                          data={"booking_id": data["booking_id"], "reference": data["reference"],
                                "hauler_id": "valley-haul", "pickup_date": "2027-01-19", "by": "resident"})
    # The first move is redelivered; each move is its own message, each once.
    await publish(notify_settings, requested, moved[0], moved[0], moved[1], cancelled, cancelled)
    await eventually(lambda: _kinds_sent(notify, 4), what="four emails")
    assert [k for k, _ in await _statuses(notify)] == [
        "booking_received", "booking_rescheduled", "booking_rescheduled", "booking_cancelled"]
    subjects = [m["subject"] for m in mailbox.messages]
    assert subjects == ["Chúng tôi đã nhận yêu cầu thu gom của bạn (JP-2026-000077)",
                        "Lịch thu gom của bạn đã đổi ngày (JP-2026-000077)",
                        "Lịch thu gom của bạn đã đổi ngày (JP-2026-000077)",
                        "Lịch thu gom của bạn đã bị hủy (JP-2026-000077)"]
    by_hauler, by_resident = mailbox.messages[1]["text"], mailbox.messages[2]["text"]
    assert "12 tháng 1, 2027" in by_hauler and "theo yêu cầu của đơn vị thu gom" in by_hauler
    assert "19 tháng 1, 2027" in by_resident and "theo yêu cầu" not in by_resident
    assert "19 tháng 1, 2027" in mailbox.messages[3]["text"]  # the cancelled pickup's date


async def test_a_confirmation_that_arrives_before_the_booking_waits_for_the_contact(notify, notify_settings, mailbox):
    requested, confirmed = booking_events()
    await publish(notify_settings, confirmed)  # hauler.v1 ahead of booking.v1
    await eventually(lambda: _statuses(notify), what="the notification to be created")
    await asyncio.sleep(1)
    assert mailbox.messages == []  # nobody to send to yet; the message waits, it is not dropped
    await publish(notify_settings, requested)
    await eventually(lambda: _kinds_sent(notify, 2), what="the emails once the contact is known")
    assert sorted(k for k, _ in await _statuses(notify)) == ["booking_received", "pickup_confirmed"]
    assert len(mailbox.messages) == 2


async def test_when_the_mail_server_is_down_the_message_waits_with_its_error_for_a_retry(notify_settings):
    down = notify_settings.model_copy(update={"smtp_port": free_port()})  # nothing listens there
    app = build_app(down)
    requested, confirmed = booking_events()
    async with in_process(app) as client:
        client.pool = app.state.runtime.pool
        await publish(notify_settings, requested, confirmed)
        await eventually(lambda: _have_errors(client, 2), what="failed attempts to be recorded")
        statuses = sorted(await _statuses(client))  # the two topics are consumed independently
        # Back in the queue, each with its error, not lost.
        assert statuses == [("booking_received", "created"), ("pickup_confirmed", "created")]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_renders_in_every_language_with_the_demo_data(kind, language):
    rendered = render_email(kind, language, {
        "name": "Lan", "reference": "JP-2026-000001",
        "manage_url": "http://127.0.0.1:8001/v1/bookings/JP-2026-000001?token=t&x=<y>",
        "pickup_date": date(2026, 12, 8), "previous_pickup_date": "2026-12-03", "by": "hauler",
        "reason": "truck <broke down>", "window": {"from": "08:00", "to": "12:00"}})
    assert rendered.language == language
    assert "JP-2026-000001" in rendered.subject
    assert "Lan" in rendered.text and "Lan" in rendered.html
    assert "&lt;y&gt;" in rendered.html and "<y>" not in rendered.html  # the HTML part escapes what it is given
    assert "{{" not in rendered.text and "{%" not in rendered.text


def test_a_language_without_templates_falls_back_to_english_and_is_counted():
    def fallbacks() -> float:
        return REGISTRY.get_sample_value("haulbridge_notify_template_fallbacks_total",
                                         {"kind": "pickup_confirmed", "language": "other"}) or 0.0

    before = fallbacks()
    rendered = render_email("pickup_confirmed", "fr-CA", {"name": "Lan", "reference": "JP-2026-000001",
                                                          "manage_url": None, "pickup_date": date(2026, 12, 8)})
    assert rendered.language == "en" and rendered.subject == "Your junk pickup is confirmed (JP-2026-000001)"
    assert "Tuesday, December 8, 2026" in rendered.text
    assert fallbacks() == before + 1


async def _kinds_sent(notify, count: int) -> bool:
    statuses = await _statuses(notify)
    return len(statuses) == count and all(s == "sent" for _, s in statuses)


async def _have_errors(client, count: int) -> bool:
    async with client.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM notifications WHERE attempts >= 1 AND error IS NOT NULL"
                                   " AND status = 'created' AND channel = 'email'") == count


async def test_staff_preview_any_message_in_any_language_with_the_operator_token(notify, notify_settings):
    assert (await notify.get("/admin/v1/templates")).status_code == 401
    wrong = await notify.get("/admin/v1/templates", headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    staff = {"Authorization": f"Bearer {notify_settings.operator_token.get_secret_value()}"}

    listed = (await notify.get("/admin/v1/templates", headers=staff)).json()
    assert {t["kind"] for t in listed if t["channels"] == ["email", "sms"]} == set(KINDS)
    assert {t["kind"] for t in listed if t["channels"] == ["sms"]} >= {"reply_help", "reply_stopped"}
    assert all(t["languages"] == list(LANGUAGES) for t in listed)

    shown = (await notify.get("/admin/v1/templates/pickup_confirmed/vi", headers=staff)).json()
    assert shown["rendered_language"] == "vi" and not shown["fell_back_to_english"]
    assert shown["subject"] == "Lịch thu gom của bạn đã được xác nhận (JP-2026-000123)"
    assert "từ 08:00 đến 12:00" in shown["text"] and "<p>Xin chào Lan Nguyen,</p>" in shown["html"]
    assert shown["sms"]["encoding"] == "UCS-2" and "08:00" in shown["sms"]["text"]
    help_text = (await notify.get("/admin/v1/templates/reply_help/es", headers=staff)).json()
    assert help_text["rendered_language"] == "es" and "STOP" in help_text["sms"]["text"]

    french = (await notify.get("/admin/v1/templates/pickup_confirmed/fr", headers=staff)).json()
    assert french["fell_back_to_english"] and french["rendered_language"] == "en"
    unknown = await notify.get("/admin/v1/templates/parking_ticket/en", headers=staff)
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/not-found"


async def test_a_resident_who_chose_only_sms_gets_no_email_and_each_message_says_why(notify, notify_settings, mailbox):
    requested, confirmed = booking_events(email=None, phone="+14085550123", channels=("sms",))
    await publish(notify_settings, requested, confirmed)
    await eventually(lambda: _all_in(notify, 2, "not_sent"), what="both messages to be settled")
    async with notify.pool.acquire() as conn:
        reasons = {r["error"] for r in await conn.fetch("SELECT error FROM notifications WHERE status = 'not_sent'"
                                                                  " AND channel = 'email'")}
    assert reasons == {"email is not among the resident's channels (sms)"}
    assert mailbox.messages == []


async def test_contact_details_are_forgotten_the_set_number_of_days_after_the_booking_closes(
        notify, notify_settings, mailbox):
    done, _ = booking_events()
    still_open, _ = booking_events(email="lan@example.org", language="vi")
    completed = new_event(type=EventType.PICKUP_COMPLETED, source="/haulbridge/hauler-adapters",
                          subject=done.subject, data={"booking_id": done.data["booking_id"], "hauler_id": "valley-haul",
                                                      "reference": done.data["reference"]})
    await publish(notify_settings, done, still_open, completed)
    await eventually(lambda: _closed(notify, done), what="the booking to be recorded as closed")

    await sweep(pool_getter=lambda: notify.pool, settings=notify_settings)
    assert await _contact(notify, done) == ("María", "maria@example.org")  # closed today: kept

    async with notify.pool.acquire() as conn:  # the retention period passes
        await conn.execute("UPDATE closed_bookings SET closed_at = now() - make_interval(days => $1 + 1)",
                           notify_settings.contact_retention_days)
    await sweep(pool_getter=lambda: notify.pool, settings=notify_settings)
    assert await _contact(notify, done) == ("(removed)", None)
    assert await _contact(notify, still_open) == ("María", "lan@example.org")  # an open booking keeps its contact
    async with notify.pool.acquire() as conn:  # what was sent stays on record, without the person
        assert await conn.fetchval("SELECT count(*) FROM notifications WHERE booking_id = $1",
                                   uuid.UUID(done.data["booking_id"])) >= 1


async def _all_in(notify, count: int, status: str) -> bool:
    statuses = await _statuses(notify)
    return len(statuses) == count and all(s == status for _, s in statuses)


async def _closed(notify, requested) -> bool:
    async with notify.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM closed_bookings c JOIN recipients r USING (booking_id)"
                                   " WHERE booking_id = $1", uuid.UUID(requested.data["booking_id"])) == 1


async def _contact(notify, requested) -> tuple:
    async with notify.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT name, email FROM recipients WHERE booking_id = $1",
                                  uuid.UUID(requested.data["booking_id"]))
    return row["name"], row["email"]


async def test_one_click_unsubscribe_stops_the_bookings_later_emails(notify, notify_settings, mailbox):
    requested, confirmed = booking_events()
    await publish(notify_settings, requested)
    await eventually(lambda: _kinds_sent(notify, 1), what="the received email")
    [received] = mailbox.messages
    assert received["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = received["headers"]["List-Unsubscribe"].strip("<>")
    assert url.startswith(f"{notify_settings.public_base_url}/v1/unsubscribe/")

    forged = await notify.post("/v1/unsubscribe/" + url.rsplit("/", 1)[1][:-2] + "xx")
    assert forged.status_code == 404 and forged.json()["type"] == "/problems/unsubscribe-link-invalid"
    r = await notify.post(url.removeprefix(notify_settings.public_base_url))  # what a mail client does
    assert r.status_code == 200 and r.json()["unsubscribed"] == "email"

    await publish(notify_settings, confirmed)
    await eventually(lambda: _statuses_are(notify, [("booking_received", "sent"), ("pickup_confirmed", "not_sent")]),
                     what="the confirmation to be held back")
    assert len(mailbox.messages) == 1


async def _statuses_are(notify, expected: list[tuple]) -> bool:
    return await _statuses(notify) == expected


async def test_a_bounce_marks_the_email_undelivered_with_the_servers_words_and_a_report_delivered(
        notify, notify_settings, mailbox):
    bounced, _ = booking_events(email="nobody@bounce.example")
    fine, _ = booking_events(email="lan@example.org", language="vi")
    await publish(notify_settings, bounced, fine)
    reports = await eventually(lambda: _deliveries(notify), what="both delivery reports")
    assert reports == {
        "nobody@bounce.example": ("undelivered",
                                  "bounced: 5.1.1 smtp; 550 5.1.1 The email account does not exist"),
        "lan@example.org": ("delivered", None)}
    # Each email left with its own return path: the report names the message without quoting it.
    assert {m["mail_from"].split("@")[0] for m in mailbox.messages} == {
        f"bounces+{n}" for n in await _email_ids(notify)}


async def _deliveries(notify) -> dict | None:
    async with notify.pool.acquire() as conn:
        rows = await conn.fetch("SELECT r.email, n.delivery_status, n.delivery_error FROM notifications n"
                                " JOIN recipients r USING (booking_id) WHERE n.channel = 'email'"
                                " AND n.kind = 'booking_received'")
    result = {r["email"]: (r["delivery_status"], r["delivery_error"]) for r in rows}
    return result if len(result) == 2 and all(s != "sent" and s for s, _ in result.values()) else None


async def _email_ids(notify) -> set:
    async with notify.pool.acquire() as conn:
        return {r["id"] for r in await conn.fetch("SELECT id FROM notifications WHERE channel = 'email'"
                                                  " AND status = 'sent'")}
