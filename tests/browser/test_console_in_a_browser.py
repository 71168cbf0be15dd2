"""Operations staff use the console in a real browser: sign in, follow a booking's whole flow,
repair an event a service could not process — and a viewer is refused the repair. Every page is
checked with axe-core for serious and critical accessibility problems."""
from __future__ import annotations

import re

from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from devstack.testing import Urls, booking_body, booking_status, eventually

from browser_pages import screenshot, serious_accessibility_violations

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]



async def sign_in(page: Page, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()


async def accessible(page: Page, name: str) -> None:
    await screenshot(page, name)
    assert await serious_accessibility_violations(page) == [], f"{name}: serious accessibility violations"


async def test_staff_follow_a_booking_and_repair_a_dead_letter_in_the_console(platform_factory, browser, infra):
    platform = platform_factory()
    platform.start_all()
    passwords = {role: platform.create_staff(user, role=role)
                 for role, user in (("operator", "omar"), ("viewer", "vic"), ("admin", "ada"))}
    urls = Urls(platform)
    console = f"http://127.0.0.1:{platform.ports.ops}"

    async with httpx.AsyncClient(timeout=15) as client:
        done = (await client.post(f"{urls.booking}/v1/bookings", json=booking_body())).json()
        await eventually(lambda: _status_is(client, urls, done, "completed"), timeout=120, what="a completed pickup")
        # Then notify loses the right to write its recipients (a botched database change): the next
        # booking's request fails there five times and notify parks it in booking.v1.dlq — kept, not lost.
        await _notify_may_insert_recipients(platform, infra, False)
        stuck = (await client.post(f"{urls.booking}/v1/bookings", json=booking_body(
            contact={"name": "Sam Resident", "email": "sam@example.org", "language": "es"}))).json()

    page = await browser.new_page()
    await sign_in(page, console, "omar", passwords["operator"])
    await expect(page.locator("#events-chart")).to_be_visible()
    # live: the server pushes new figures (server-sent events) without a reload
    first = await page.locator("#updated").inner_text()
    await expect(page.locator("#updated")).not_to_have_text(first, timeout=20_000)
    valley = page.locator(".hauler", has_text="valley-haul")
    await expect(valley).to_contain_text("closed")  # its circuit
    await expect(valley).to_contain_text(re.compile(r"100% of \d+"))  # calls answered in the last 5 minutes
    await expect(page.locator("#live-tables")).to_contain_text("booking.v1")  # dead letters per topic
    await accessible(page, "01-overview")

    # Find the booking by its reference: its whole flow across the services, step by step.
    await page.get_by_role("link", name="Bookings").click()
    await page.get_by_label("Reference, address or phone").fill(done["reference"])
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("heading", name=f"Booking {done['reference']}")).to_be_visible()
    for _ in range(60):  # ops follows the events; the page shows what it has seen so far
        if await page.locator("#booking-status").inner_text() == "completed" and \
                await page.get_by_text("Resident told by email: pickup_completed").count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    timeline = page.get_by_role("list", name="What happened to this booking")
    for step in ("Booked through web", "valley-haul took the job", "dispatch: ok", "confirmed the pickup",
                 "completed the pickup", "Resident told by email: booking_received"):
        await expect(timeline).to_contain_text(step)
    await expect(timeline).to_contain_text(re.compile(r"after the step before"))
    await accessible(page, "02-booking-timeline")

    # The Northside booking's dispatch failed five times and was parked; it is on the list.
    await page.get_by_role("link", name="Dead letters").click()
    row = page.get_by_role("row").filter(has_text=stuck["id"])
    for _ in range(60):
        if await row.count():
            break
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(row).to_contain_text("InsufficientPrivilegeError")
    await accessible(page, "03-dead-letters")
    await row.get_by_role("link", name=re.compile("Inspect")).click()
    await expect(page.locator("#letter-status")).to_have_text("parked")
    letter_url = page.url
    await accessible(page, "04-dead-letter")

    # A viewer sees it but cannot replay it (no form; a forged post is refused too).
    viewer = await browser.new_page()
    await sign_in(viewer, console, "vic", passwords["viewer"])
    await viewer.goto(letter_url)
    await expect(viewer.get_by_text("Replaying or discarding needs the operator role")).to_be_visible()
    assert await viewer.get_by_role("button", name="Replay").count() == 0
    forged = await viewer.request.post(letter_url + "/replay", form={"reason": "let me"},
                                       headers={"accept": "text/html"})
    assert forged.status == 403
    token = await viewer.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = await viewer.request.post(letter_url + "/replay", form={"reason": "let me", "csrf_token": token},
                                        headers={"accept": "text/html"})
    assert refused.status == 403 and "needs the operator role" in await refused.text()
    await screenshot(viewer, "05-viewer-refused")

    # The cause fixed (the privilege given back), the operator replays it.
    await _notify_may_insert_recipients(platform, infra, True)
    await page.get_by_label("Why replay it").fill("notify's INSERT on recipients was revoked by mistake; granted again.")
    await page.get_by_role("button", name="Replay").click()
    await expect(page.get_by_role("status")).to_contain_text("replayed (applied)")
    await expect(page.locator("#letter-status")).to_have_text("replayed")
    await accessible(page, "06-replayed")
    async with httpx.AsyncClient(timeout=15) as client:
        # processed: the resident now gets the message the failure had held back, in Spanish
        await eventually(lambda: _mail_to(client, urls, "sam@example.org"), timeout=60, what="Sam's email")

    # The other pages, for accessibility too.
    for path, name in (("/reconciliation", "07-reconciliation"), ("/kpis", "08-kpis"),
                       (f"/bookings?q={stuck['reference']}&by=reference", "09-replayed-booking")):
        await page.goto(console + path)
        await accessible(page, name)
    admin = await browser.new_page()
    await sign_in(admin, console, "ada", passwords["admin"])
    await admin.goto(console + "/staff")
    await expect(admin.get_by_role("cell", name="replay", exact=True)).to_be_visible()  # the audit: who, why
    await accessible(admin, "10-staff")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await accessible(page, "11-login")
    await page.goto(console + "/bookings/not-a-booking")  # a problem, as a page
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out: sign in first
    await admin.goto(console + "/bookings/00000000-0000-0000-0000-000000000000")
    await expect(admin.get_by_role("heading", name="Not found")).to_be_visible()
    await accessible(admin, "12-not-found")
    await admin.goto(console + "/bookings")
    await accessible(admin, "13-bookings")


async def test_the_console_is_used_with_the_keyboard_alone(platform_factory, browser):
    platform = platform_factory()
    for name in ("booking", "ops"):  # the console needs no more than this to sign in and look around
        platform.start(name)
    password = platform.create_staff("vic", role="viewer")
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{platform.ports.ops}/login")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Username")).to_be_focused()
    await page.keyboard.type("vic")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    # skip the navigation to the page's content, then reach the bookings search through the menu
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.keyboard.press("Shift+Tab")  # back into the header: the last control there is "Sign out"
    await expect(page.get_by_role("button", name="Sign out")).to_be_focused()
    bookings = page.get_by_role("link", name="Bookings")
    await bookings.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Bookings", level=1)).to_be_visible()
    await screenshot(page, "14-keyboard")


async def _status_is(client, urls, booking, *statuses) -> bool:
    return await booking_status(client, urls, booking) in statuses


async def _notify_may_insert_recipients(platform, infra, allowed: bool) -> None:
    """What a DBA would do: take notify's INSERT privilege on its recipients table, or give it back."""
    database = urlsplit(platform.dsns["notify"]).path.lstrip("/")
    admin = urlsplit(infra.admin_dsn)
    conn = await asyncpg.connect(urlunsplit((admin.scheme, admin.netloc, f"/{database}", admin.query, "")))
    try:
        verb = "GRANT INSERT ON notify.recipients TO notify" if allowed else \
            "REVOKE INSERT ON notify.recipients FROM notify"
        await conn.execute(verb)
    finally:
        await conn.close()


async def _mail_to(client, urls, address: str) -> bool:
    mails = (await client.get(f"{urls.mail}/messages")).json()
    return any(address in m["rcpt_to"] for m in mails)
