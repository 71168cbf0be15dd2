"""Who may see and do what in the console, and forms that only the console can send."""
from __future__ import annotations

from ops_console import HTML, PASSWORD, csrf_of, sign_in


async def test_every_page_needs_a_signed_in_staff_member(ops):
    for path in ("/", "/bookings", "/dead-letters", "/reconciliation", "/kpis", "/kpis.csv", "/staff"):
        page = await ops.get(path, headers=HTML)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next="), path
    api = await ops.get("/overview.json")
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"


async def test_a_wrong_password_is_refused_and_recorded(ops):
    refused = await sign_in(ops, "vic", "not the password")
    assert refused.status_code == 401 and "do not match" in refused.text
    async with ops.pool.acquire() as conn:
        outcome = await conn.fetchval("SELECT outcome FROM staff_actions WHERE username = 'vic' ORDER BY id DESC")
    assert outcome == "refused"
    assert (await ops.get("/", headers=HTML)).status_code == 303  # still not signed in


async def test_repeated_wrong_passwords_lock_the_account_for_a_while(ops):
    for _ in range(10):
        await sign_in(ops, "omar", "guessing")
    # even the right password is refused until the window passes; the attempt is recorded as throttled
    assert (await sign_in(ops, "omar", PASSWORD)).status_code == 401
    async with ops.pool.acquire() as conn:
        assert await conn.fetchval("SELECT outcome FROM staff_actions WHERE username = 'omar' ORDER BY id DESC") \
            == "throttled"


async def test_a_form_without_the_sessions_token_is_refused(ops):
    page = await ops.get("/login", headers=HTML)
    forged = await ops.post("/login", data={"username": "ada", "password": PASSWORD}, headers=HTML)
    assert forged.status_code == 403
    assert (await ops.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": "guess"},
                           headers=HTML)).status_code == 403
    assert (await ops.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_of(page)},
                           headers=HTML)).status_code == 303
    # signed in: a forged repair is still refused, and nothing reaches any service
    forged_replay = await ops.post("/dead-letters/booking/booking.v1.dlq/0/0/replay", data={"reason": "forged"},
                                   headers=HTML)
    assert forged_replay.status_code == 403
    async with ops.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM staff_actions WHERE action = 'replay'") == 0


async def test_a_viewer_sees_but_may_not_repair_or_manage_staff(ops):
    await sign_in(ops, "vic")
    assert (await ops.get("/", headers=HTML)).status_code == 200
    token = csrf_of(await ops.get("/login", headers=HTML))
    refused = await ops.post("/dead-letters/booking/booking.v1.dlq/0/0/replay",
                             data={"reason": "trying", "csrf_token": token}, headers=HTML)
    assert refused.status_code == 403 and "needs the operator role" in refused.text
    assert (await ops.get("/staff", headers=HTML)).status_code == 403


async def test_an_admin_adds_an_operator_who_can_then_sign_in(ops):
    await sign_in(ops, "ada")
    page = await ops.get("/staff", headers=HTML)
    saved = await ops.post("/staff", data={"username": "Nora", "display_name": "Nora Night Shift", "role": "operator",
                                           "password": "a long enough passphrase", "csrf_token": csrf_of(page)},
                           headers=HTML)
    assert saved.status_code == 303
    assert "nora" in (await ops.get("/staff", headers=HTML)).text
    too_short = await ops.post("/staff", data={"username": "x", "display_name": "X", "role": "admin",
                                               "password": "short", "csrf_token": csrf_of(page)}, headers=HTML)
    assert too_short.status_code == 303
    assert "Not saved" in (await ops.get("/staff", headers=HTML)).text
    await ops.post("/logout", data={"csrf_token": csrf_of(page)}, headers=HTML)
    assert (await sign_in(ops, "nora", "a long enough passphrase")).status_code == 303


async def test_an_unreachable_service_is_named_on_the_dead_letter_page(ops):
    await sign_in(ops, "omar")
    page = await ops.get("/dead-letters", headers=HTML)
    assert page.status_code == 200
    assert "Could not list: booking" in page.text  # its URL points at a closed port in these tests
