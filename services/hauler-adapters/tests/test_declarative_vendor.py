"""A new JSON vendor by configuration alone: Northside Clean-Out differs in names, nesting, status
words and auth (OAuth2 client credentials) and has no adapter code of its own."""
from __future__ import annotations

import asyncio
import copy

import httpx
import pytest

from devstack.stack import NORTHSIDE_CONFIG
from devstack.infra import free_port
from devstack.testing import eventually, http_server
from haulbridge_simulators.declarative_hauler import build_app
from haulbridge_runtime.topics import EventType
from hauler_adapters.vendors.base import Integration, PickupJob, VendorRejected
from hauler_adapters.vendors.declarative import DeclarativeJsonAdapter, InvalidIntegration
from test_dispatch import booking_requested, hauler_events, publish


def _integration(url: str, config: dict | None = None) -> Integration:
    return Integration(hauler_id="northside-cleanout", kind="declarative_json", base_url=url,
                       api_key_env="NORTHSIDE_CLIENT_SECRET", webhook_secret_env=None,
                       config=config or NORTHSIDE_CONFIG)


def _adapter(url: str) -> DeclarativeJsonAdapter:
    return DeclarativeJsonAdapter(_integration(url), timeout=2, attempts=3, retry_initial=0.01, retry_max=0.05)


def _job(street: str = "1 N First St, San Jose, CA 95113", key: str = "haulbridge-evt-1") -> PickupJob:
    return PickupJob(booking_id="6f1d3c2a-0000-4000-8000-000000000001", reference="JP-2026-000101",
                     pickup_date="2026-12-07", address={"text": street, "latitude": 37.34, "longitude": -121.89},
                     items=[{"item": "sofa", "label": "Sofa or couch", "quantity": 1},
                            {"item": "mattress", "label": "Mattress", "quantity": 2}],
                     contact_name="Lan Nguyen", contact_phone="+14085551234", notes="Side gate", idempotency_key=key)


async def _stats(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get("/_sim/stats")).json()


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("NORTHSIDE_CLIENT_SECRET", "northside-demo-client-secret")


async def test_the_job_goes_in_the_vendors_shape_once_per_idempotency_key(northside, northside_settings):
    adapter = _adapter(northside)
    try:
        first = await adapter.dispatch(_job())
        again = await adapter.dispatch(_job())  # a replay after a crash: same key, same pickup
    finally:
        await adapter.close()
    assert first.external_ref == again.external_ref and first.external_ref.startswith("NS-")
    stats = await _stats(northside)
    assert stats["pickups_per_ref"] == {_job().booking_id: 1} and stats["tokens_issued"] == 1
    order = await _order_received(northside, first.external_ref)  # what the vendor got, in its own shape
    assert order["lines"] == [{"sku": "sofa", "qty": 1, "label": "Sofa or couch"},
                              {"sku": "mattress", "qty": 2, "label": "Mattress"}]
    assert order["site"] == {"street": "1 N First St, San Jose, CA 95113", "geo": [-121.89, 37.34]}
    assert (order["day"], order["city_ref"], order["remarks"]) == ("2026-12-07", "JP-2026-000101", "Side gate")


async def _order_received(url: str, pickup_id: str) -> dict:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get(f"/_sim/orders/{pickup_id}")).json()


async def test_the_vendors_status_words_become_the_citys(northside):
    adapter = _adapter(northside)
    try:
        done = await adapter.dispatch(_job())
        missed = await adapter.dispatch(_job(street="9 NO ACCESS Ln, San Jose, CA 95134", key="haulbridge-evt-2"))
        assert (await adapter.fetch_status(done.external_ref)).status == "accepted"  # BOOKED
        confirmed = await eventually(lambda: _status_is(adapter, done.external_ref, "confirmed"),
                                     what="SCHEDULED")
        assert (confirmed.pickup_date, confirmed.window) == ("2026-12-07", {"from": "09:00", "to": "13:00"})
        await eventually(lambda: _status_is(adapter, done.external_ref, "completed"), what="DONE")
        report = await eventually(lambda: _status_is(adapter, missed.external_ref, "missed"), what="NO_ACCESS")
        assert report.reason == "Could not reach the curb"
    finally:
        await adapter.close()


async def _status_is(adapter, ref: str, status: str):
    report = await adapter.fetch_status(ref)
    return report if report.status == status else None


async def test_an_expired_token_is_replaced_without_the_caller_noticing(northside_settings):
    short = northside_settings.model_copy(update={"token_ttl": 2, "port": free_port()})
    async with http_server(build_app(short), short.port) as url:
        config = {**NORTHSIDE_CONFIG, "auth": {**NORTHSIDE_CONFIG["auth"], "leeway_seconds": 0}}
        adapter = DeclarativeJsonAdapter(_integration(url, config), timeout=2, attempts=3, retry_initial=0.01,
                                         retry_max=0.05)
        try:
            await adapter.dispatch(_job())
            await adapter.dispatch(_job(key="haulbridge-evt-8"))  # the same token
            await asyncio.sleep(2.5)  # the vendor's token has expired (tokens are timed in whole seconds)
            await adapter.dispatch(_job(key="haulbridge-evt-9"))
        finally:
            await adapter.close()
        assert (await _stats(url))["tokens_issued"] == 2


async def test_the_vendors_refusal_is_a_rejection_with_its_words_and_its_outage_is_retried(northside):
    adapter = _adapter(northside)
    async with httpx.AsyncClient(base_url=northside) as client:
        await client.post("/_sim/faults", json=[{"status": 422, "message": "Address outside our service area"}])
        with pytest.raises(VendorRejected, match="outside our service area"):
            await adapter.dispatch(_job())
        await client.post("/_sim/faults", json=[{"status": 503}, {"status": 429, "retry_after": 0}])
        receipt = await adapter.dispatch(_job())
    await adapter.close()
    assert receipt.external_ref.startswith("NS-")
    assert (await _stats(northside))["create_calls"] == 4  # refused once (not retried), then 503, 429, created


@pytest.mark.parametrize("broken, field", [
    ({"status": {**NORTHSIDE_CONFIG["status"], "status": "data.pickup.[state"}}, "status"),
    ({"status_words": {"BOOKED": "booked-ish"}}, "status_words"),
    ({"auth": {"kind": "carrier-pigeon"}}, "auth"),
])
def test_a_configuration_that_cannot_work_is_refused_naming_the_field(broken, field):
    config = {**copy.deepcopy(NORTHSIDE_CONFIG), **broken}
    with pytest.raises(InvalidIntegration, match=field):
        DeclarativeJsonAdapter(_integration("http://127.0.0.1:1", config), timeout=1, attempts=1,
                               retry_initial=0.01, retry_max=0.01)


async def test_a_booking_in_the_north_is_dispatched_polled_and_completed_through_configuration_only(
        adapters, adapter_settings, northside):
    requested = booking_requested(hauler_id="northside-cleanout")
    await publish(adapter_settings, requested)
    await publish(adapter_settings, requested)  # redelivered
    events = await hauler_events(adapter_settings, expect=3)
    assert [e["type"] for e in events] == [EventType.DISPATCH_ACCEPTED, EventType.PICKUP_CONFIRMED,
                                           EventType.PICKUP_COMPLETED]
    accepted, confirmed, _completed = events
    assert accepted["data"]["hauler_reference"].startswith("NS-")
    assert confirmed["data"]["window"] == {"from": "09:00", "to": "13:00"}
    assert {e["correlationid"] for e in events} == {requested.correlationid}
    await asyncio.sleep(1)  # more poll rounds: DONE again and again changes nothing
    assert len(await hauler_events(adapter_settings, expect=4, timeout=2)) == 3
    assert (await _stats(northside))["pickups_per_ref"] == {requested.subject: 1}
