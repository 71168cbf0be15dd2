"""The staff API: keys by kind, roles that scope what staff may do, and an audit of every change."""
from __future__ import annotations

import pytest

from booking import city_rules, clients
from booking.app import build_app
from devstack.testing import booking_body, eventually, in_process, pickup_day


@pytest.fixture
async def keys(booking_db) -> dict[str, str]:
    made = {}
    for role in clients.STAFF_ROLES:
        _client, made[role] = await clients.create(booking_db, name=f"staff-{role}", kind="staff", role=role)
    _client, made["web"] = await clients.create(booking_db, name="city-web", kind="frontend", role="client",
                                                rate_limit_per_minute=3)
    return made


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def test_the_staff_api_refuses_no_key_a_front_end_key_and_a_role_too_low(booking_api, keys):
    assert (await booking_api.get("/admin/v1/rules")).status_code == 401
    assert (await booking_api.get("/admin/v1/rules", headers=bearer(keys["web"]))).status_code == 401
    assert (await booking_api.get("/admin/v1/rules", headers=bearer("hb_staff_made-up"))).status_code == 401
    viewer_search = await booking_api.get("/admin/v1/bookings", headers=bearer(keys["viewer"]))
    assert viewer_search.status_code == 403 and viewer_search.json()["type"] == "/problems/forbidden"
    assert (await booking_api.get("/admin/v1/rules", headers=bearer(keys["viewer"]))).status_code == 200


async def test_an_agent_finds_a_booking_by_phone_and_sees_the_contact(booking_api, keys):
    body = booking_body(contact={"name": "Bao Tran", "phone": "+14085550199", "language": "vi", "channels": ["sms"]})
    booking = (await booking_api.post("/v1/bookings", json=body)).json()
    found = (await booking_api.get("/admin/v1/bookings", params={"phone": "0199"}, headers=bearer(keys["agent"]))).json()
    assert [b["reference"] for b in found] == [booking["reference"]]
    view = (await booking_api.get(f"/admin/v1/bookings/{booking['reference']}", headers=bearer(keys["agent"]))).json()
    assert view["contact"]["phone"] == "+14085550199"  # unmasked for the call centre


async def test_an_operator_corrects_a_status_with_a_reason_and_illegal_corrections_are_refused(
    booking_api, booking_db, keys
):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    path = f"/admin/v1/bookings/{booking['reference']}/status"
    as_agent = await booking_api.post(path, json={"status": "completed", "reason": "driver phoned"},
                                      headers=bearer(keys["agent"]))
    assert as_agent.status_code == 403
    done = await booking_api.post(path, json={"status": "completed", "reason": "driver phoned it in"},
                                  headers=bearer(keys["operator"]))
    assert done.status_code == 200
    step = done.json()["timeline"][-1]
    assert (step["step"], step["status"], step["source"]) == ("corrected_by_staff", "completed", "staff:staff-operator")
    illegal = await booking_api.post(path, json={"status": "cancelled", "reason": "resident asked"},
                                     headers=bearer(keys["operator"]))
    assert illegal.status_code == 409 and illegal.json()["type"] == "/problems/illegal-transition"
    audit = await booking_db.fetch("SELECT actor, action, target, detail FROM audit_log ORDER BY id")
    assert [(a["actor"], a["action"], a["target"]) for a in audit] == [
        ("staff-operator", "booking.status_corrected", booking["reference"])]
    assert audit[0]["detail"]["reason"] == "driver phoned it in"


async def test_capacity_for_a_range_of_days_is_set_at_once_but_never_below_what_is_booked(booking_api, booking_db, keys):
    day = pickup_day(8)
    assert (await booking_api.post("/v1/bookings", json=booking_body(pickup_date=day.isoformat()))).status_code == 201
    body = {"from": day.isoformat(), "to": day.isoformat(), "pickups": 0}
    refused = await booking_api.put("/admin/v1/zones/downtown/capacity", json=body, headers=bearer(keys["operator"]))
    assert refused.status_code == 409 and refused.json()["days"] == [{"date": day.isoformat(), "booked": 1}]

    later = pickup_day(20)
    body = {"from": later.isoformat(), "to": pickup_day(33).isoformat(), "pickups": 3}
    r = await booking_api.put("/admin/v1/zones/downtown/capacity", json=body, headers=bearer(keys["operator"]))
    assert r.status_code == 200 and r.json()["days_set"] >= 9
    free = (await booking_api.get("/v1/availability", params={"address": "200 E Santa Clara St",
                                                             "from": later.isoformat(), "to": later.isoformat()})).json()
    assert free["dates"] == [{"date": later.isoformat(), "remaining": 3}]


async def test_an_admin_changes_the_rules_and_the_next_booking_follows_them(booking_api, booking_db, keys):
    r = await booking_api.patch("/admin/v1/rules", json={"max_items_per_booking": 2, "household_quota_per_year": 1},
                                headers=bearer(keys["operator"]))
    assert r.status_code == 403
    r = await booking_api.patch("/admin/v1/rules", json={"max_items_per_booking": 2, "household_quota_per_year": 1},
                                headers=bearer(keys["admin"]))
    assert r.json()["max_items_per_booking"] == 2
    three = booking_body(items=[{"item": "sofa", "quantity": 1}, {"item": "table", "quantity": 2}])
    assert (await booking_api.post("/v1/bookings", json=three)).status_code == 422
    assert (await booking_api.post("/v1/bookings", json=booking_body())).status_code == 201
    again = await booking_api.post("/v1/bookings", json=booking_body(pickup_date=pickup_day(15).isoformat()))
    assert again.status_code == 409 and again.json()["type"] == "/problems/quota-exceeded"
    assert (await booking_api.get("/v1/items")).json()["max_items_per_booking"] == 2
    assert [a["action"] for a in await booking_db.fetch("SELECT action FROM audit_log")] == ["rules.changed"]


async def test_a_holiday_added_by_staff_disappears_from_free_dates(booking_api, keys):
    day = pickup_day(12)
    r = await booking_api.post("/admin/v1/blackout-days", json={"date": day.isoformat(), "reason": "City closure"},
                               headers=bearer(keys["operator"]))
    assert r.status_code == 201
    free = (await booking_api.get("/v1/availability", params={"address": "200 E Santa Clara St",
                                                             "from": day.isoformat(), "to": day.isoformat()})).json()
    assert free["dates"] == []
    refused = await booking_api.post("/v1/bookings", json=booking_body(pickup_date=day.isoformat()))
    assert refused.status_code == 422 and "City closure" in refused.json()["detail"]


async def test_each_front_end_is_rate_limited_by_its_own_key(booking_api, keys):
    statuses = [(await booking_api.get("/v1/items", headers={"X-Api-Key": keys["web"]})).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await booking_api.get("/v1/items")).status_code == 200  # other clients are not slowed
    assert (await booking_api.get("/v1/items", headers={"X-Api-Key": keys["admin"]})).status_code == 401


async def test_anonymous_callers_are_rate_limited_per_address(booking_settings):
    from booking.admin import DEMO_CITY
    from booking.places.importer import import_city
    from haulbridge_runtime.db import connect

    app = build_app(booking_settings.model_copy(update={"rate_limit_anonymous": "2/minute"}))
    async with in_process(app) as client:
        conn = await connect(booking_settings.database_url, booking_settings.db_schema)
        await import_city(conn, DEMO_CITY)
        await conn.close()
        statuses = [(await client.get("/v1/items")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert (await client.get("/v1/items")).json()["type"] == "/problems/rate-limited"


async def test_an_admin_adds_an_item_and_residents_can_book_it_in_their_language(booking_api, booking_db, keys):
    item = {"category": "outdoor", "label_en": "Trampoline (taken apart)", "label_es": "Trampolín (desarmado)",
            "label_vi": "Bạt nhún (đã tháo rời)", "accepted": True, "max_per_booking": 1}
    assert (await booking_api.put("/admin/v1/items/trampoline", json=item,
                                  headers=bearer(keys["operator"]))).status_code == 403
    assert (await booking_api.put("/admin/v1/items/trampoline", json=item,
                                  headers=bearer(keys["admin"]))).status_code == 200
    es = (await booking_api.get("/v1/items", headers={"Accept-Language": "es"})).json()
    outdoor = next(c for c in es["accepted"] if c["category"] == "outdoor")
    assert {"code": "trampoline", "label": "Trampolín (desarmado)", "max_per_booking": 1} in outdoor["items"]
    booked = await booking_api.post("/v1/bookings", json=booking_body(items=[{"item": "trampoline"}]))
    assert booked.status_code == 201
    assert [a["action"] for a in await booking_db.fetch("SELECT action FROM audit_log")] == ["item.saved"]


async def test_rules_changed_by_another_replica_apply_here_without_a_restart(booking_api, booking_db):
    """Each replica caches the rules; the NOTIFY of a change made anywhere makes it read them again."""
    address = "200 E Santa Clara St"
    assert (await booking_api.get("/v1/items")).json()["max_items_per_booking"] == 12  # read, and now cached
    rules = booking_api.app.state.city_rules
    await eventually(lambda: rules.listening, what="the service to listen for rule changes")
    await booking_api.get("/v1/items")
    assert rules.cached is not None

    # Another replica's admin (or a DBA) changes the rules: this process did not make the change.
    await city_rules.change(booking_db, city_rules.RuleChanges(max_items_per_booking=3), actor="other replica")
    await eventually(lambda: rules.cached is None, what="the NOTIFY of the change")
    assert (await booking_api.get("/v1/items")).json()["max_items_per_booking"] == 3
    r = await booking_api.post("/v1/bookings", json=booking_body(address=address, items=[
        {"item": "sofa", "quantity": 1}, {"item": "mattress", "quantity": 1}, {"item": "armchair", "quantity": 2}]))
    assert r.status_code == 422 and r.json()["type"] == "/problems/items-not-accepted"


async def test_a_replica_that_lost_its_listening_connection_reads_the_rules_afresh_and_listens_again(
        booking_api, booking_db):
    rules = booking_api.app.state.city_rules
    await eventually(lambda: rules.listening, what="the service to listen for rule changes")
    await booking_api.get("/v1/items")
    assert rules.cached is not None

    # The listening connection is cut (a database failover, a network blip) and a change is made meanwhile.
    cut = await booking_db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query ILIKE 'LISTEN %city_rules%'")
    assert cut == 1
    await city_rules.change(booking_db, city_rules.RuleChanges(max_items_per_booking=5), actor="during the cut")

    # No NOTIFY can reach it; once it sees the connection gone it drops its rules and reads them per request.
    await eventually(lambda: not rules.listening or rules.cached is None, what="the loss to be noticed")
    assert (await booking_api.get("/v1/items")).json()["max_items_per_booking"] == 5
    await eventually(lambda: rules.listening, what="the service to listen again")
    assert (await booking_api.get("/v1/items")).json()["max_items_per_booking"] == 5


async def test_staff_changes_naming_unknown_or_duplicate_records_are_refused_and_not_applied(
        booking_api, booking_db, keys):
    admin = bearer(keys["admin"])
    r = await booking_api.patch("/admin/v1/zones/downtown", json={"hauler_id": "no-such-hauler"}, headers=admin)
    assert r.status_code == 422 and r.json()["type"] == "/problems/unknown-reference"
    assert r.json()["errors"] == [{"field": "hauler_id", "message": "no such record"}]
    assert await booking_db.fetchval("SELECT hauler_id FROM zones WHERE id = 'downtown'") == "valley-haul"
    assert await booking_db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'zone.changed'") == 0

    r = await booking_api.post("/admin/v1/clients", json={"name": "city-web", "kind": "frontend"}, headers=admin)
    assert r.status_code == 409 and r.json()["type"] == "/problems/already-exists"
    assert await booking_db.fetchval("SELECT count(*) FROM api_clients WHERE name = 'city-web'") == 1
