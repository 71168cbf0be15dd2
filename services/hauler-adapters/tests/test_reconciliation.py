"""The city and its haulers are compared: a lost job is sent again, a lost webhook is made good,
a job the city never sent and a pickup with no completion are reported — per hauler and day."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import httpx

from devstack.testing import city_today
from haulbridge_runtime.topics import EventType
from test_dispatch import booking_requested, hauler_events, publish

STAFF = {"Authorization": "Bearer adapters-test-operator-token"}


async def test_reconciliation_finds_every_kind_of_discrepancy_acts_once_and_reports_per_hauler_and_day(
        adapters, adapter_settings, hauler):
    lost, silently_done, fine = booking_requested(), booking_requested(), booking_requested()
    overdue = booking_requested()
    overdue.data["pickup_date"] = (date.today() - timedelta(days=3)).isoformat()
    for event in (lost, silently_done, fine, overdue):
        await publish(adapter_settings, event)
    accepted = {e["subject"]: e["data"]["hauler_reference"] for e in await hauler_events(adapter_settings, expect=4)}
    async with httpx.AsyncClient(base_url=hauler) as vendor:
        await vendor.delete(f"/_sim/jobs/{accepted[lost.subject]}")  # the hauler lost it
        await vendor.patch(f"/_sim/jobs/{accepted[silently_done.subject]}", json={"status": "completed"})
        phoned_in = (await vendor.post("/_sim/jobs", json={"service_date": "2026-12-08"})).json()["job_id"]

        assert (await adapters.post("/admin/v1/reconciliation/run")).status_code == 401  # operators only
        run = (await adapters.post("/admin/v1/reconciliation/run", headers=STAFF)).json()
        assert run["by_kind"] == {"missing_at_hauler": 1, "overdue": 1, "status_mismatch": 1, "unknown_to_city": 1}
        stats = (await vendor.get("/_sim/stats")).json()
    assert stats["jobs_per_customer_reference"][lost.subject] == 1  # sent again, with its idempotency key

    found = {d["kind"]: d for d in (await adapters.get(
        "/admin/v1/reconciliation", headers=STAFF,
        params={"hauler_id": "valley-haul", "day": city_today().isoformat()})).json()}  # the city's day
    assert (found["missing_at_hauler"]["booking_id"], found["missing_at_hauler"]["action"]) == (
        lost.subject, "redispatched")
    assert (found["unknown_to_city"]["external_ref"], found["unknown_to_city"]["action"]) == (phoned_in, "reported")
    mismatch = found["status_mismatch"]
    assert (mismatch["booking_id"], mismatch["city_status"], mismatch["hauler_status"], mismatch["action"]) == (
        silently_done.subject, "accepted", "completed", "applied_hauler_status")
    assert found["overdue"]["booking_id"] == overdue.subject and "no completion" in found["overdue"]["detail"]

    # The lost webhook was made good: pickup.completed, once; and each discrepancy was published once.
    events = await hauler_events(adapter_settings, expect=9)
    completed = [e for e in events if e["type"] == EventType.PICKUP_COMPLETED]
    assert [e["subject"] for e in completed] == [silently_done.subject]
    assert sum(e["type"] == EventType.DISCREPANCY_FOUND for e in events) == 4

    await adapters.post("/admin/v1/reconciliation/run", headers=STAFF)  # found again: nothing new published
    assert len(await hauler_events(adapter_settings, expect=10, timeout=3)) == 9
    sheet = (await adapters.get("/admin/v1/reconciliation.csv", headers=STAFF)).text
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert len(rows) == 4 and {r["kind"] for r in rows} == {"missing_at_hauler", "unknown_to_city",
                                                             "status_mismatch", "overdue"}
