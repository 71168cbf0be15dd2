"""Bad input gets a clear RFC 9457 problem, and nothing is written: no booking, no event."""
from __future__ import annotations

from datetime import timedelta

import pytest

from devstack.testing import booking_body, city_today


async def _nothing_written(db) -> None:
    assert await db.fetchval("SELECT count(*) FROM bookings") == 0
    assert await db.fetchval("SELECT count(*) FROM booking_history") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0


def _is_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    return problem


async def test_malformed_json_is_refused(booking_api, booking_db):
    r = await booking_api.post("/v1/bookings", content=b'{"address": "200 E Santa', headers={
        "content-type": "application/json"})
    _is_problem(r, 400, "malformed-json")
    await _nothing_written(booking_db)


async def test_an_unknown_address_is_refused_with_suggestions_on_the_same_street(booking_api, booking_db):
    r = await booking_api.post("/v1/bookings", json=booking_body(address="999 E Santa Clara St, San Jose"))
    problem = _is_problem(r, 422, "unknown-address")
    assert "999 E Santa Clara St" in problem["detail"]
    assert problem["suggestions"] == ["200 E Santa Clara St, San Jose, CA 95113"]
    await _nothing_written(booking_db)


async def test_a_date_in_the_past_is_refused(booking_api, booking_db):
    yesterday = (city_today() - timedelta(days=1)).isoformat()
    problem = _is_problem(await booking_api.post("/v1/bookings", json=booking_body(pickup_date=yesterday)),
                          422, "date-not-bookable")
    assert "in the past" in problem["detail"]
    await _nothing_written(booking_db)


async def test_a_date_beyond_the_booking_horizon_is_refused(booking_api, booking_db):
    far = (city_today() + timedelta(days=400)).isoformat()
    problem = _is_problem(await booking_api.post("/v1/bookings", json=booking_body(pickup_date=far)),
                          422, "date-not-bookable")
    assert "60 days" in problem["detail"]
    await _nothing_written(booking_db)


async def test_items_not_accepted_are_refused_with_where_to_take_them(booking_api, booking_db):
    body = booking_body(items=[{"item": "paint", "quantity": 1}, {"item": "sofa", "quantity": 3},
                               {"item": "hovercraft", "quantity": 1}])
    problem = _is_problem(await booking_api.post("/v1/bookings", json=body), 422, "items-not-accepted")
    reasons = {p["item"]: p for p in problem["items"]}
    assert "Household Hazardous Waste" in reasons["paint"]["alternative"]
    assert reasons["sofa"]["reason"] == "at most 2 per pickup"
    assert "catalogue" in reasons["hovercraft"]["reason"]
    await _nothing_written(booking_db)


async def test_more_than_twelve_items_is_refused(booking_api, booking_db):
    body = booking_body(items=[{"item": "bagged_junk", "quantity": 10}, {"item": "table", "quantity": 3}])
    problem = _is_problem(await booking_api.post("/v1/bookings", json=body), 422, "items-not-accepted")
    assert "at most 12 items per pickup" in problem["items"][0]["reason"]
    await _nothing_written(booking_db)


@pytest.mark.parametrize("contact, field", [
    ({"name": "Alex"}, "body.contact"),
    ({"name": "Alex", "email": "not-an-email"}, "body.contact.email"),
    ({"name": "Alex", "phone": "555-1234", "channels": ["sms"]}, "body.contact.phone"),
])
async def test_a_resident_we_could_not_reach_is_refused_naming_the_field(booking_api, booking_db, contact, field):
    problem = _is_problem(await booking_api.post("/v1/bookings", json=booking_body(contact=contact)),
                          422, "invalid-request")
    assert field in {e["field"] for e in problem["errors"]}
    await _nothing_written(booking_db)


async def test_an_unknown_booking_is_a_404_problem(booking_api):
    _is_problem(await booking_api.get("/v1/bookings/JP-2026-999999"), 404, "booking-not-found")


async def test_a_good_booking_writes_the_booking_its_first_step_and_its_event_together(booking_api, booking_db):
    r = await booking_api.post("/v1/bookings", json=booking_body(address="200 east santa clara street"))
    assert r.status_code == 201, r.text
    assert await booking_db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await booking_db.fetchval("SELECT count(*) FROM booking_history") == 1
    event = await booking_db.fetchval("SELECT payload FROM outbox")
    assert event["data"]["booking_id"] == r.json()["id"]


async def test_text_postgresql_cannot_store_is_refused_and_nothing_is_written(booking_api, booking_db):
    r = await booking_api.post("/v1/bookings", json=booking_body(notes="gate code 12\u000034"))
    problem = _is_problem(r, 422, "invalid-text")
    assert "Nothing was changed" in problem["detail"]
    await _nothing_written(booking_db)  # the capacity taken in the same transaction went back with it
    assert await booking_db.fetchval("SELECT coalesce(sum(booked), 0) FROM capacity_days") == 0
