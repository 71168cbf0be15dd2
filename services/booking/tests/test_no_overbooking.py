"""No overbooking, ever: races for the last pickups of a day, for a household's quota, and on one idempotency key."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from booking.app import build_app
from booking.calendar import repository as calendar_repository
from devstack.testing import booking_body, in_process, pickup_day

ADDRESSES_DOWNTOWN = [
    "200 E Santa Clara St, San Jose, CA 95113", "1 Washington Sq, San Jose, CA 95192",
    "201 S Market St, San Jose, CA 95113", "150 W San Carlos St, San Jose, CA 95113",
    "180 Woz Way, San Jose, CA 95110", "535 N 5th St, San Jose, CA 95112",
    "1 Paseo de San Antonio, San Jose, CA 95113", "100 Montgomery St, San Jose, CA 95110",
]


async def test_200_residents_racing_for_the_last_5_pickups_of_a_day_get_exactly_5(booking_api, booking_db):
    day = pickup_day(10)
    await calendar_repository.set_capacity(booking_db, "downtown", day, 5)

    async def book(i: int):
        body = booking_body(address=ADDRESSES_DOWNTOWN[i % len(ADDRESSES_DOWNTOWN)], pickup_date=day.isoformat(),
                            contact={"name": f"Resident {i}", "email": f"r{i}@example.org"})
        return await booking_api.post("/v1/bookings", json=body)

    responses = await asyncio.gather(*(book(i) for i in range(200)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 5
    assert statuses.count(409) == 195
    refused = next(r.json() for r in responses if r.status_code == 409)
    assert refused["type"] == "/problems/slot-full"
    assert refused["next_free_dates"], "a refusal offers the next free dates"
    row = await booking_db.fetchrow("SELECT pickups, booked FROM capacity_days WHERE zone_id = 'downtown' AND day = $1",
                                    day)
    assert (row["pickups"], row["booked"]) == (5, 5)
    assert await booking_db.fetchval("SELECT count(*) FROM bookings WHERE pickup_date = $1", day) == 5
    assert await booking_db.fetchval("SELECT count(*) FROM outbox") == 5  # one event per booking, none for refusals


@pytest.fixture
async def quota_api(booking_settings):
    from booking.admin import DEMO_CITY
    from booking.places.importer import import_city
    from haulbridge_runtime.db import connect

    settings = booking_settings.model_copy(update={"household_quota_per_year": 2})
    async with in_process(build_app(settings)) as client:
        conn = await connect(settings.database_url, settings.db_schema)
        await import_city(conn, DEMO_CITY)
        await conn.close()
        yield client


async def test_a_household_racing_itself_cannot_exceed_its_quota(quota_api, booking_db):
    days = [pickup_day(7 + 7 * i) for i in range(10)]
    same_year = [d for d in days if d.year == days[0].year][:6]

    responses = await asyncio.gather(*(
        quota_api.post("/v1/bookings", json=booking_body(pickup_date=d.isoformat())) for d in same_year))
    assert sorted(r.status_code for r in responses) == [201, 201] + [409] * (len(same_year) - 2)
    refused = next(r.json() for r in responses if r.status_code == 409)
    assert refused["type"] == "/problems/quota-exceeded"

    # Cancelling gives the quota back.
    booked = next(r.json() for r in responses if r.status_code == 201)
    from devstack.testing import manage_path

    path = manage_path(booked)
    cancel_path = path.replace("?", "/cancel?")
    assert (await quota_api.post(cancel_path)).status_code == 200
    again = next(d for d in same_year if d.isoformat() not in
                 {r.json().get("pickup_date") for r in responses if r.status_code == 201})
    assert (await quota_api.post("/v1/bookings", json=booking_body(pickup_date=again.isoformat()))).status_code == 201


async def test_concurrent_retries_with_one_idempotency_key_make_one_booking(booking_api, booking_db):
    body = booking_body()
    key = str(uuid.uuid4())
    responses = await asyncio.gather(*(
        booking_api.post("/v1/bookings", json=body, headers={"Idempotency-Key": key}) for _ in range(20)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await booking_db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await booking_db.fetchval("SELECT booked FROM capacity_days") == 1

    other = booking_body(items=[{"item": "washer", "quantity": 1}])
    reused = await booking_api.post("/v1/bookings", json=other, headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    assert reused.json()["type"] == "/problems/idempotency-key-reused"
