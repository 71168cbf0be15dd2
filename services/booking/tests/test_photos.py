"""Residents may attach a few photos of their items; only real images of a sensible size are kept."""
from __future__ import annotations

import io
from urllib.parse import urlsplit

from devstack.contracts import validate_event
from devstack.testing import booking_body

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def upload(api, data: bytes, name: str = "sofa.png", content_type: str = "image/png"):
    return await api.post("/v1/photos", files={"file": (name, io.BytesIO(data), content_type)})


async def test_photos_are_checked_by_content_and_size(booking_api, booking_settings):
    assert (await upload(booking_api, PNG)).json()["content_type"] == "image/png"
    assert (await upload(booking_api, JPEG, "x.png", "image/png")).json()["content_type"] == "image/jpeg"
    disguised = await upload(booking_api, b"MZ\x90\x00 not an image", "sofa.jpg", "image/jpeg")
    assert disguised.status_code == 422 and disguised.json()["type"] == "/problems/photo-not-accepted"
    huge = await upload(booking_api, JPEG + b"\x00" * booking_settings.photo_max_bytes)
    assert huge.status_code == 413 and huge.json()["type"] == "/problems/photo-too-large"


async def test_a_booking_offers_its_photos_to_the_hauler_by_signed_link(booking_api, booking_db):
    first = (await upload(booking_api, PNG)).json()["id"]
    second = (await upload(booking_api, JPEG, "b.jpg", "image/jpeg")).json()["id"]
    booking = await booking_api.post("/v1/bookings", json=booking_body(photo_ids=[first, second]))
    assert booking.status_code == 201, booking.text

    event = await booking_db.fetchval("SELECT payload FROM outbox")
    validate_event(event)
    links = event["data"]["photos"]
    assert sorted(p["content_type"] for p in links) == ["image/jpeg", "image/png"]
    url = urlsplit(next(p["url"] for p in links if p["content_type"] == "image/png"))
    fetched = await booking_api.get(f"{url.path}?{url.query}")
    assert fetched.status_code == 200 and fetched.content == PNG
    assert (await booking_api.get(url.path)).status_code == 404  # no token, no photo
    assert (await booking_api.get(f"{url.path}?token=forged")).status_code == 404

    # A photo belongs to one booking only.
    reuse = await booking_api.post("/v1/bookings", json=booking_body(photo_ids=[first], address="180 Woz Way"))
    assert reuse.status_code == 422 and reuse.json()["type"] == "/problems/photo-not-accepted"
