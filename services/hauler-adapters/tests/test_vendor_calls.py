"""Every call to a hauler is measured (metrics) and, when it concerns one booking, recorded on the
booking's timeline (``vendor_calls``), shown to operators at ``/admin/v1/vendor-calls`` and
``/admin/v1/dispatches/{booking_id}``."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devstack.testing import eventually, in_process
from hauler_adapters import vendor_calls
from hauler_adapters.app import build_app
from hauler_adapters.vendors.base import DispatchReceipt, PickupJob, VendorRejected
from hauler_adapters.vendors.guard import Circuits, GuardedAdapter, VendorCall
from haulbridge_runtime.topics import EventType
from test_dispatch import booking_requested, hauler_events, publish

STAFF = {"Authorization": "Bearer adapters-test-operator-token"}


async def metric(client: httpx.AsyncClient, sample: str, **labels) -> float:
    """A sample's value on the service's own ``/metrics`` (0 when absent)."""
    text = (await client.get("/metrics")).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


async def calls_of(client: httpx.AsyncClient, booking_id: str, expect: int) -> list[dict]:
    """The booking's recorded calls, once there are ``expect`` (they are written just after each call)."""
    async def read():
        calls = (await client.get("/admin/v1/vendor-calls", headers=STAFF, params={"booking_id": booking_id})).json()
        return calls if len(calls) >= expect else None
    return await eventually(read, what=f"{expect} vendor calls recorded for {booking_id}")


async def test_a_dispatch_that_succeeds_is_recorded_ok_with_its_time_and_booking_and_counted(
        adapters, adapter_settings):
    ok_before = await metric(adapters, "haulbridge_adapters_vendor_calls_total", hauler="valley-haul",
                             operation="dispatch", outcome="ok")
    timed_before = await metric(adapters, "haulbridge_adapters_vendor_call_seconds_count", hauler="valley-haul",
                                operation="dispatch")
    requested = booking_requested()
    await publish(adapter_settings, requested)
    [accepted] = await hauler_events(adapter_settings, expect=1)

    [call] = await calls_of(adapters, requested.subject, expect=1)
    assert (call["hauler_id"], call["booking_id"], call["operation"], call["outcome"]) == (
        "valley-haul", requested.subject, "dispatch", "ok")
    assert call["external_ref"] == accepted["data"]["hauler_reference"]
    assert isinstance(call["duration_ms"], int) and 0 <= call["duration_ms"] < 10_000
    assert call["detail"] is None
    assert abs(datetime.fromisoformat(call["at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert await metric(adapters, "haulbridge_adapters_vendor_calls_total", hauler="valley-haul",
                        operation="dispatch", outcome="ok") == ok_before + 1
    assert await metric(adapters, "haulbridge_adapters_vendor_call_seconds_count", hauler="valley-haul",
                        operation="dispatch") == timed_before + 1

    dispatch = (await adapters.get(f"/admin/v1/dispatches/{requested.subject}", headers=STAFF)).json()
    assert (dispatch["status"], dispatch["hauler_id"], dispatch["external_ref"], dispatch["attempts"],
            dispatch["last_error"]) == ("accepted", "valley-haul", call["external_ref"], 1, None)
    assert dispatch["vendor_calls"] == [call]
    assert "job" not in dispatch  # the job as sent holds the resident's contact details: not shown


async def test_a_change_names_only_the_haulers_job_number_and_is_recorded_on_its_booking(
        adapters, adapter_settings):
    from haulbridge_runtime.envelope import new_event

    requested = booking_requested()
    cancel = new_event(type=EventType.BOOKING_CANCELLED, source="/haulbridge/booking", subject=requested.subject,
                       data={**{k: requested.data[k] for k in ("booking_id", "reference", "hauler_id", "pickup_date")},
                             "by": "resident", "reason": "gave the sofa away"})
    await publish(adapter_settings, requested)
    await publish(adapter_settings, cancel)
    dispatched, cancelled = await calls_of(adapters, requested.subject, expect=2)
    assert (dispatched["operation"], cancelled["operation"], cancelled["outcome"]) == ("dispatch", "cancel", "ok")
    assert cancelled["external_ref"] == dispatched["external_ref"]  # the booking found through the dispatch


async def test_a_refusal_is_recorded_with_the_vendors_words_and_the_dispatch_ends_rejected(
        adapters, adapter_settings, hauler):
    async with httpx.AsyncClient(base_url=hauler) as vendor:
        await vendor.post("/_sim/faults", json=[{"status": 422, "reason": "address outside our service area"}])
    requested = booking_requested()
    await publish(adapter_settings, requested)
    [rejected] = await hauler_events(adapter_settings, expect=1)
    assert rejected["type"] == EventType.DISPATCH_REJECTED

    [call] = await calls_of(adapters, requested.subject, expect=1)
    assert (call["outcome"], call["detail"], call["external_ref"]) == (
        "refused", "address outside our service area", None)
    assert isinstance(call["duration_ms"], int)
    # The data: the dispatch is rejected with the hauler's reason, no job number, not retried (one call).
    dispatch = (await adapters.get(f"/admin/v1/dispatches/{requested.subject}", headers=STAFF)).json()
    assert (dispatch["status"], dispatch["external_ref"], dispatch["last_error"]) == (
        "rejected", None, "address outside our service area")
    assert len(dispatch["vendor_calls"]) == 1


async def test_a_hauler_in_outage_is_recorded_unavailable_then_circuit_open_without_being_called(
        adapter_settings, hauler):
    settings = adapter_settings.model_copy(update={"circuit_threshold": 2, "circuit_open_seconds": 600})
    app = build_app(settings)
    async with in_process(app) as adapters, httpx.AsyncClient(base_url=hauler) as vendor:
        opened_before = await metric(adapters, "haulbridge_adapters_vendor_calls_total", hauler="valley-haul",
                                     operation="dispatch", outcome="circuit_open")
        await vendor.post("/_sim/faults", json=[{"status": 503}] * 6)  # 2 dispatches × 3 attempts
        first, second, third = booking_requested(), booking_requested(), booking_requested()
        for n, event in enumerate((first, second, third), start=1):
            await publish(settings, event)
            await hauler_events(settings, expect=n)
        timed = await metric(adapters, "haulbridge_adapters_vendor_call_seconds_count", hauler="valley-haul",
                             operation="dispatch")

        for event in (first, second):
            [call] = await calls_of(adapters, event.subject, expect=1)
            assert (call["outcome"], call["detail"]) == ("unavailable", "HTTP 503")
            assert call["duration_ms"] is not None  # three attempts and their backoff
        [call] = await calls_of(adapters, third.subject, expect=1)
        assert call["outcome"] == "circuit_open" and "circuit open for hauler 'valley-haul'" in call["detail"]
        assert call["duration_ms"] is None  # not called
        assert await metric(adapters, "haulbridge_adapters_vendor_calls_total", hauler="valley-haul",
                            operation="dispatch", outcome="circuit_open") == opened_before + 1
        assert await metric(adapters, "haulbridge_adapters_vendor_call_seconds_count", hauler="valley-haul",
                            operation="dispatch") == timed  # a call not made has no time

        # The data: each booking's dispatch failed with the reason (dispatch.failed published, the
        # resident told the city will call); the hauler has none of the three jobs.
        for event, reason in ((first, "HTTP 503"), (third, "circuit open for hauler 'valley-haul'")):
            dispatch = (await adapters.get(f"/admin/v1/dispatches/{event.subject}", headers=STAFF)).json()
            assert dispatch["status"] == "failed" and reason in dispatch["last_error"]
        assert (await vendor.get("/_sim/stats")).json()["jobs_per_customer_reference"] == {}


async def test_the_operator_api_needs_the_token_and_an_unknown_booking_is_a_404_problem(adapters):
    for path in ("/admin/v1/vendor-calls", f"/admin/v1/dispatches/{uuid.uuid4()}"):
        anonymous = await adapters.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert "ADAPTERS_OPERATOR_TOKEN" in anonymous.json()["detail"]
    unknown = uuid.uuid4()
    missing = await adapters.get(f"/admin/v1/dispatches/{unknown}", headers=STAFF)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["detail"] == f"No dispatch for booking '{unknown}'."
    assert (await adapters.get("/admin/v1/vendor-calls", headers=STAFF,
                               params={"booking_id": str(unknown)})).json() == []
    bad = await adapters.get("/admin/v1/dispatches/not-a-uuid", headers=STAFF)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.booking_id"


async def test_a_haulers_calls_are_listed_from_a_time_on_or_the_latest(adapters):
    now = datetime.now(UTC)
    log = vendor_calls.VendorCallLog(lambda: adapters.pool)
    for minutes in (30, 20, 10):
        log.record(VendorCall(hauler_id="listing-haul", operation="status", outcome="unavailable", duration_ms=12,
                              at=now - timedelta(minutes=minutes), detail="HTTP 503", external_ref=f"J-{minutes}"))
    # a poll that answered is only counted (what it found comes as an event): no row
    log.record(VendorCall(hauler_id="listing-haul", operation="status", outcome="ok", duration_ms=9,
                          at=now, detail=None, external_ref="J-0"))
    await log.drain()
    listed = lambda **params: adapters.get("/admin/v1/vendor-calls", headers=STAFF,  # noqa: E731
                                           params={"hauler_id": "listing-haul", **params})
    assert [c["external_ref"] for c in (await listed()).json()] == ["J-30", "J-20", "J-10"]
    assert [c["external_ref"] for c in (await listed(limit=2)).json()] == ["J-20", "J-10"]  # the latest two
    since = (now - timedelta(minutes=25)).isoformat()
    assert [c["external_ref"] for c in (await listed(since=since, limit=1)).json()] == ["J-20"]  # from then on
    [unknown_job] = (await listed(limit=1)).json()
    assert unknown_job["booking_id"] is None  # a job number no dispatch has: kept, on no booking


async def test_calls_older_than_the_retention_are_pruned(adapters):
    log = vendor_calls.VendorCallLog(lambda: adapters.pool)
    for days in (91, 1):
        log.record(VendorCall(hauler_id="pruned-haul", operation="dispatch", outcome="ok", duration_ms=5,
                              at=datetime.now(UTC) - timedelta(days=days), detail=None,
                              booking_id=str(uuid.uuid4())))
    await log.drain()
    # (the service's own daily pruner, which starts with the service, may get there first: either way it goes)
    await vendor_calls.prune(adapters.pool, older_than_days=90)
    async with adapters.pool.acquire() as conn:
        left = await conn.fetch("SELECT at FROM vendor_calls WHERE hauler_id = 'pruned-haul'")
    assert len(left) == 1 and left[0]["at"] > datetime.now(UTC) - timedelta(days=2)


class _Vendor:
    kind = "test"

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        if self.refuse:
            raise VendorRejected("no trucks that day")
        return DispatchReceipt(external_ref="T-1", status="accepted")

    async def close(self) -> None:
        pass


def _job() -> PickupJob:
    return PickupJob(booking_id=str(uuid.uuid4()), reference="JP-1", pickup_date="2026-12-08", address={},
                     items=[], contact_name="A", contact_phone=None, notes=None, idempotency_key="k")


async def test_a_recorder_that_fails_never_fails_the_call_and_the_vendors_answer_stands():
    def broken(call: VendorCall) -> None:
        raise RuntimeError("recorder broken")

    guarded = GuardedAdapter(_Vendor(), hauler_id="unit-haul", circuits=Circuits(threshold=5, open_seconds=30),
                             concurrency=1, record=broken)
    assert (await guarded.dispatch(_job())).external_ref == "T-1"  # the job stands; its record is lost (logged)
    refusing = GuardedAdapter(_Vendor(refuse=True), hauler_id="unit-haul",
                              circuits=Circuits(threshold=5, open_seconds=30), concurrency=1, record=broken)
    try:
        await refusing.dispatch(_job())
    except VendorRejected as exc:  # the vendor's refusal, not the recorder's error
        assert exc.reason == "no trucks that day"
    else:
        raise AssertionError("the refusal was swallowed")


async def test_a_database_that_cannot_take_the_record_is_logged_and_the_call_goes_on():
    class NoDatabase:
        def acquire(self):
            raise OSError("connection refused")

    log = vendor_calls.VendorCallLog(lambda: NoDatabase())
    log.record(VendorCall(hauler_id="unit-haul", operation="dispatch", outcome="ok", at=datetime.now(UTC),
                          duration_ms=3, detail=None, booking_id=str(uuid.uuid4())))
    await log.drain()  # the write failed inside its own task: nothing raised here, the row is lost (logged)
    assert not log._pending
