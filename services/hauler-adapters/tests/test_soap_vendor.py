"""A SOAP vendor without webhooks: Westside Recovery's work order service, over real HTTP."""
from __future__ import annotations

import asyncio
from datetime import date, timedelta

import httpx
import pytest

from devstack.infra import free_port
from devstack.testing import eventually, http_server
from haulbridge_simulators.soap_hauler import SoapHaulerSettings, build_app
from hauler_adapters.vendors.base import Integration, PickupJob, VendorRejected, VendorUnavailable
from hauler_adapters.vendors.soap import SoapWorkOrderAdapter

SERVICE_DATE = (date.today() + timedelta(days=14)).isoformat()


@pytest.fixture
async def westside():
    settings = SoapHaulerSettings(port=free_port(), schedule_delay=0.2, complete_delay=0.4)
    async with http_server(build_app(settings), settings.port) as url:
        yield url


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("WESTSIDE_SOAP_PASSWORD", "westside-demo-password")


def _adapter(url: str, *, timeout: float = 2, attempts: int = 3) -> SoapWorkOrderAdapter:
    integration = Integration(hauler_id="westside-recovery", kind="soap", base_url=url,
                              api_key_env="WESTSIDE_SOAP_PASSWORD", webhook_secret_env=None,
                              config={"username": "haulbridge"})
    return SoapWorkOrderAdapter(integration, timeout=timeout, attempts=attempts, retry_initial=0.01, retry_max=0.05)


def _job(street: str = "1200 W Olive Ave, Burbank, CA 91506", key: str = "haulbridge-evt-1") -> PickupJob:
    return PickupJob(booking_id="6f1d3c2a-0000-4000-8000-000000000001", reference="JP-2026-000201",
                     pickup_date=SERVICE_DATE, address={"text": street, "latitude": 34.15, "longitude": -118.33},
                     items=[{"item": "sofa", "label": "Sofa or couch", "quantity": 1},
                            {"item": "mattress", "label": "Mattress", "quantity": 2}],
                     contact_name="Lan Nguyen", contact_phone="+18185551234", notes="Side gate", idempotency_key=key)


async def _sim(url: str, path: str):
    async with httpx.AsyncClient(base_url=url) as client:
        return (await client.get(path)).json()


async def _queue_faults(url: str, faults: list[dict]) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        (await client.post("/_sim/faults", json=faults)).raise_for_status()


async def _status_is(adapter: SoapWorkOrderAdapter, ref: str, status: str):
    report = await adapter.fetch_status(ref)
    return report if report.status == status else None


async def test_a_work_order_is_created_once_per_idempotency_key(westside):
    adapter = _adapter(westside)
    try:
        first = await adapter.dispatch(_job())
        again = await adapter.dispatch(_job())  # a replay after a crash: same key, same pickup
    finally:
        await adapter.close()
    assert first.external_ref == again.external_ref == "WR-000001"
    assert first.status == "accepted"
    stats = await _sim(westside, "/_sim/stats")
    assert stats["create_calls"] == 2
    assert stats["orders_per_client_reference"] == {"haulbridge-evt-1": 1}
    assert stats["orders_per_city_reference"] == {"JP-2026-000201": 1}
    [order] = await _sim(westside, "/_sim/orders")  # what the vendor got, in its own words
    assert order["Items"] == [{"Code": "sofa", "Description": "Sofa or couch", "Quantity": 1},
                              {"Code": "mattress", "Description": "Mattress", "Quantity": 2}]
    assert (order["ServiceDate"], order["Address"], order["ContactPhone"], order["Notes"]) == (
        SERVICE_DATE, "1200 W Olive Ave, Burbank, CA 91506", "+18185551234", "Side gate")


async def test_the_vendors_status_words_become_the_citys(westside):
    adapter = _adapter(westside)
    try:
        done = await adapter.dispatch(_job())
        missed = await adapter.dispatch(_job(street="9 NO ACCESS Ln, Burbank, CA 91506", key="haulbridge-evt-2"))
        assert (await adapter.fetch_status(done.external_ref)).status == "accepted"  # RECEIVED
        confirmed = await eventually(lambda: _status_is(adapter, done.external_ref, "confirmed"), what="SCHEDULED")
        assert (confirmed.pickup_date, confirmed.window) == (SERVICE_DATE, {"from": "07:00", "to": "11:00"})
        await eventually(lambda: _status_is(adapter, done.external_ref, "completed"), what="COMPLETE")
        report = await eventually(lambda: _status_is(adapter, missed.external_ref, "missed"),
                                  what="UNABLE_TO_SERVICE")
        assert report.reason == "Gate locked"
    finally:
        await adapter.close()


async def test_a_cancelled_work_order_reads_cancelled_and_an_unknown_one_is_refused(westside):
    adapter = _adapter(westside)
    try:
        receipt = await adapter.dispatch(_job())
        await adapter.cancel(receipt.external_ref, "Resident cancelled")
        assert (await adapter.fetch_status(receipt.external_ref)).status == "cancelled"
        with pytest.raises(VendorRejected, match="Unknown work order WR-999999"):
            await adapter.fetch_status("WR-999999")
    finally:
        await adapter.close()


async def test_the_vendors_refusal_is_a_rejection_in_its_words_and_is_not_retried(westside):
    adapter = _adapter(westside)
    await _queue_faults(westside, [{"fault": "client", "message": "Address outside our area"}])
    try:
        with pytest.raises(VendorRejected, match="Address outside our area"):
            await adapter.dispatch(_job())
    finally:
        await adapter.close()
    assert (await _sim(westside, "/_sim/stats"))["create_calls"] == 1


async def test_vendor_trouble_is_retried_until_the_work_order_is_created(westside):
    adapter = _adapter(westside, attempts=4)
    await _queue_faults(westside, [{"fault": "server"}, {"status": 503}, {"status": 429, "retry_after": 0}])
    try:
        receipt = await adapter.dispatch(_job())
    finally:
        await adapter.close()
    assert receipt.external_ref == "WR-000001"
    assert (await _sim(westside, "/_sim/stats"))["create_calls"] == 4  # server fault, 503, 429, created


async def test_a_timeout_is_retried_and_the_client_reference_keeps_one_work_order(westside):
    adapter = _adapter(westside, timeout=0.3)
    await _queue_faults(westside, [{"delay": 1}])  # the first call is answered too late, but still creates
    try:
        receipt = await adapter.dispatch(_job())
    finally:
        await adapter.close()
    assert receipt.external_ref == "WR-000001"
    await asyncio.sleep(1)  # the late call has been answered too: with the same work order
    stats = await _sim(westside, "/_sim/stats")
    assert stats["create_calls"] == 2 and stats["orders_per_client_reference"] == {"haulbridge-evt-1": 1}


async def test_a_wrong_password_is_our_fault_not_the_bookings_so_it_fails_rather_than_rejects(
        westside, monkeypatch):
    monkeypatch.setenv("WESTSIDE_SOAP_PASSWORD", "not-the-password")
    adapter = _adapter(westside)
    try:
        with pytest.raises(VendorUnavailable, match="refused our credentials: Authentication failed"):
            await adapter.dispatch(_job())
    finally:
        await adapter.close()
    stats = await _sim(westside, "/_sim/stats")
    assert stats["orders_per_client_reference"] == {}  # nothing created; dispatch.failed says why
