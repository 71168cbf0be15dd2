"""The resident's journey: items, who serves me, free dates, hold, book, change, cancel, rate."""
from __future__ import annotations

from datetime import date, timedelta

from booking.calendar import repository as calendar_repository
from devstack.testing import booking_body, city_today, manage_path, pickup_day


def _action(booking: dict, action: str) -> str:
    return manage_path(booking).replace("?", f"/{action}?")


async def test_the_item_list_comes_in_the_residents_language(booking_api):
    es = (await booking_api.get("/v1/items", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})).json()
    assert es["language"] == "es"
    assert es["max_items_per_booking"] == 12
    furniture = next(c for c in es["accepted"] if c["category"] == "furniture")
    assert {"code": "sofa", "label": "Sofá", "max_per_booking": 2} in furniture["items"]
    paint = next(p for p in es["prohibited"] if p["code"] == "paint")
    assert paint["label"] == "Pintura y solventes" and "Hazardous" in paint["take_it_to"]
    vi = (await booking_api.get("/v1/items", headers={"Accept-Language": "vi"})).json()
    assert vi["language"] == "vi"
    fallback = (await booking_api.get("/v1/items", headers={"Accept-Language": "fr-FR"})).json()
    assert fallback["language"] == "en"


async def test_typing_an_address_finds_it_and_says_who_serves_it(booking_api):
    matches = (await booking_api.get("/v1/addresses", params={"q": "santa clara"})).json()
    assert {"address": "200 E Santa Clara St, San Jose, CA 95113", "eligible": True} in matches
    assert {"address": "525 W Santa Clara St, San Jose, CA 95113", "eligible": False} in matches  # commercial
    lookup = (await booking_api.get("/v1/service-lookup", params={"address": "200 east santa clara street"})).json()
    assert lookup["hauler"] == {"id": "valley-haul", "name": "Valley Haul Co."}
    assert lookup["zone"]["collection_day"] == "Tuesday"
    assert lookup["eligible"] is True


async def test_a_commercial_address_cannot_book(booking_api):
    r = await booking_api.post("/v1/bookings", json=booking_body(address="525 W Santa Clara St, San Jose, CA 95113"))
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/address-not-eligible"


async def test_free_dates_leave_out_weekends_holidays_and_full_days(booking_api, booking_db):
    full = pickup_day(9)
    await calendar_repository.set_capacity(booking_db, "downtown", full, 0)
    first, last = city_today() + timedelta(days=1), city_today() + timedelta(days=40)
    r = await booking_api.get("/v1/availability", params={"address": "200 E Santa Clara St", "from": first.isoformat(),
                                                          "to": last.isoformat()})
    dates = {date.fromisoformat(d["date"]): d["remaining"] for d in r.json()["dates"]}
    assert dates and all(d.weekday() < 5 for d in dates)
    assert full not in dates
    assert date(2026, 12, 25) not in dates
    assert min(dates) >= date.fromisoformat(r.json()["earliest"])
    assert set(dates.values()) == {20}


async def test_someone_elses_hold_on_the_last_pickup_gives_409_with_when_it_frees(booking_api, booking_db):
    day = pickup_day(11)
    await calendar_repository.set_capacity(booking_db, "downtown", day, 1)
    hold = await booking_api.post("/v1/holds", json={"address": "200 E Santa Clara St", "date": day.isoformat()})
    assert hold.status_code == 201
    hold = hold.json()

    other = await booking_api.post("/v1/bookings", json=booking_body(address="180 Woz Way", pickup_date=day.isoformat()))
    assert other.status_code == 409
    assert other.json()["type"] == "/problems/slot-held"
    assert other.json()["frees_at"] == hold["expires_at"].replace("Z", "+00:00")

    mine = await booking_api.post("/v1/bookings", json=booking_body(pickup_date=day.isoformat(), hold_id=hold["id"]))
    assert mine.status_code == 201, mine.text
    assert await booking_db.fetchval("SELECT released_at IS NOT NULL FROM holds WHERE id = $1",
                                     __import__("uuid").UUID(hold["id"]))


async def test_a_booking_cannot_be_seen_or_changed_without_its_manage_link(booking_api):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    assert (await booking_api.get(f"/v1/bookings/{booking['reference']}")).status_code == 403
    forged = await booking_api.get(f"/v1/bookings/{booking['reference']}?token=abc.def")
    assert forged.status_code == 403 and forged.json()["type"] == "/problems/manage-token-invalid"
    assert (await booking_api.post(f"/v1/bookings/{booking['reference']}/cancel")).status_code == 403


async def test_reschedule_moves_the_capacity_and_cancel_returns_it(booking_api, booking_db):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    old, new = date.fromisoformat(booking["pickup_date"]), pickup_day(14)
    moved = await booking_api.post(_action(booking, "reschedule"), json={"pickup_date": new.isoformat()})
    assert moved.status_code == 200, moved.text
    assert moved.json()["pickup_date"] == new.isoformat() and moved.json()["target_date"] == new.isoformat()
    booked = dict(await booking_db.fetch("SELECT day, booked FROM capacity_days"))
    assert booked == {old: 0, new: 1}

    cancelled = await booking_api.post(_action(booking, "cancel"), json={"reason": "gave the sofa to a neighbour"})
    assert cancelled.json()["status"] == "cancelled"
    assert dict(await booking_db.fetch("SELECT day, booked FROM capacity_days")) == {old: 0, new: 0}
    steps = [s["step"] for s in cancelled.json()["timeline"]]
    assert steps == ["received", "rescheduled", "cancelled"]
    events = [r["event_type"].split(".")[-2] for r in await booking_db.fetch("SELECT event_type FROM outbox ORDER BY id")]
    assert events == ["requested", "rescheduled", "cancelled"]

    again = await booking_api.post(_action(booking, "cancel"))
    assert again.status_code == 409 and again.json()["type"] == "/problems/illegal-transition"


async def test_a_completed_pickup_can_be_rated_once_and_not_cancelled(booking_api, booking_db):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    too_early = await booking_api.post(_action(booking, "feedback"), json={"rating": 5})
    assert too_early.status_code == 409
    await booking_db.execute("UPDATE bookings SET status = 'completed'")

    rated = await booking_api.post(_action(booking, "feedback"), json={"rating": 4, "comment": "Quick and tidy"})
    assert rated.status_code == 200
    twice = await booking_api.post(_action(booking, "feedback"), json={"rating": 1})
    assert twice.status_code == 409
    assert await booking_db.fetchval("SELECT rating FROM feedback") == 4
    cancel = await booking_api.post(_action(booking, "cancel"))
    assert cancel.status_code == 409 and cancel.json()["type"] == "/problems/illegal-transition"


async def test_a_missed_pickup_cannot_be_reported_before_the_pickup_day(booking_api):
    booking = (await booking_api.post("/v1/bookings", json=booking_body())).json()
    r = await booking_api.post(_action(booking, "missed-report"), json={"details": "nobody came"})
    assert r.status_code == 409 and r.json()["type"] == "/problems/change-closed"


async def test_an_address_without_its_street_direction_is_found_or_offered_as_a_choice(booking_api, booking_db):
    found = (await booking_api.get("/v1/service-lookup", params={"address": "1300 Senter Road"})).json()
    assert found["address"] == "1300 Senter Rd, San Jose, CA 95112"
    only_east = (await booking_api.get("/v1/service-lookup", params={"address": "200 Santa Clara St"})).json()
    assert only_east["address"] == "200 E Santa Clara St, San Jose, CA 95113"

    # With a 200 W Santa Clara St as well, the direction matters and the resident must choose.
    await booking_db.execute(
        "INSERT INTO address_points (id, address, normalized, house_number, street, city, postcode, latitude,"
        " longitude, land_use, zone_id) VALUES ('sj-test', '200 W Santa Clara St, San Jose, CA 95113',"
        " '200 W SANTA CLARA ST', '200', 'W Santa Clara St', 'San Jose', '95113', 37.333, -121.892,"
        " 'single_family', 'downtown')")
    r = await booking_api.get("/v1/service-lookup", params={"address": "200 Santa Clara St"})
    assert r.status_code == 422 and r.json()["type"] == "/problems/ambiguous-address"
    assert r.json()["suggestions"] == ["200 E Santa Clara St, San Jose, CA 95113",
                                       "200 W Santa Clara St, San Jose, CA 95113"]


async def test_the_booking_answer_is_the_same_view_the_manage_link_shows(booking_api):
    made = await booking_api.post("/v1/bookings", json=booking_body(notes="Behind the gate"))
    assert made.status_code == 201
    shown = (await booking_api.get(manage_path(made.json()))).json()
    answer = made.json()
    assert {k: v for k, v in answer.items() if k != "manage_url"} == \
           {k: v for k, v in shown.items() if k != "manage_url"}
    assert [(s["step"], s["status"], s["source"]) for s in answer["timeline"]] == [("received", "requested", "resident:web")]
