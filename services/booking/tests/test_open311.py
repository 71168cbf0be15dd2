"""A city's existing 311 front end or CRM books and follows junk pickups through Open311 GeoReport v2."""
from __future__ import annotations

import pytest

from booking import clients
from devstack.testing import pickup_day


@pytest.fixture
async def crm_key(booking_db) -> str:
    _client, key = await clients.create(booking_db, name="city-crm", kind="frontend", role="client")
    return key


async def test_the_junk_pickup_service_and_its_attributes_are_listed(booking_api):
    services = (await booking_api.get("/open311/v2/services.json")).json()
    assert services[0]["service_code"] == "junk-pickup" and services[0]["metadata"] is True
    definition = (await booking_api.get("/open311/v2/services/junk-pickup.json")).json()
    codes = {a["code"]: a for a in definition["attributes"]}
    assert codes["pickup_date"]["required"] and codes["items"]["datatype"] == "multivaluelist"
    assert {"key": "sofa", "name": "Sofa or couch"} in codes["items"]["values"]
    assert {"key": "paint", "name": "Paint and solvents"} not in codes["items"]["values"]


async def test_a_311_request_becomes_a_booking_and_can_be_followed(booking_api, booking_db, crm_key):
    form = {"api_key": crm_key, "service_code": "junk-pickup", "address_string": "1 Washington Sq, San Jose",
            "first_name": "Lan", "last_name": "Nguyen", "phone": "+14085550142", "description": "By the garage",
            "attribute[pickup_date]": pickup_day().isoformat(), "attribute[items][]": ["sofa", "television"]}
    created = await booking_api.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    [receipt] = created.json()
    reference = receipt["service_request_id"]
    assert reference.startswith("JP-") and "booked" in receipt["service_notice"]
    row = await booking_db.fetchrow("SELECT channel, contact, items FROM bookings WHERE reference = $1", reference)
    assert row["channel"] == "open311" and row["contact"]["channels"] == ["sms"]
    assert [i["item"] for i in row["items"]] == ["sofa", "television"]

    [followed] = (await booking_api.get(f"/open311/v2/requests/{reference}.json",
                                        params={"api_key": crm_key})).json()
    assert followed["status"] == "open" and followed["status_notes"].startswith("Received")
    assert followed["expected_datetime"] == pickup_day().isoformat()
    listed = (await booking_api.get("/open311/v2/requests.json",
                                    params={"api_key": crm_key, "service_request_id": reference})).json()
    assert [r["service_request_id"] for r in listed] == [reference]


async def test_open311_errors_come_in_georeport_form(booking_api, crm_key):
    no_key = await booking_api.post("/open311/v2/requests.json", data={"service_code": "junk-pickup"})
    assert no_key.status_code == 403 and no_key.json()[0]["code"] == 403
    bad = await booking_api.post("/open311/v2/requests.json", data={
        "api_key": crm_key, "service_code": "junk-pickup", "address_string": "999 Nowhere Rd",
        "first_name": "Lan", "email": "lan@example.org", "attribute[pickup_date]": pickup_day().isoformat(),
        "attribute[items][]": "sofa"})
    assert bad.status_code == 422 and "could not find" in bad.json()[0]["description"]
    unread = await booking_api.get("/open311/v2/requests/JP-2026-000001.json")
    assert unread.status_code == 403
