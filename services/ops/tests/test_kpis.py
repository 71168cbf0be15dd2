"""The city's KPIs, checked against a seeded month of bookings whose outcomes we know."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest

from devstack.testing import eventually
from ops.app import build_app
from devstack.testing import in_process
from ops_events import BookingStory, publish

from ops_console import HTML, PASSWORD, sign_in

COSTS = {"currency": "USD", "monthly_fixed": {"platform": 1000.0}, "per_booking_by_channel": {"311_agent": 5.0},
         "per_message": {"email": 0.001, "sms": 0.01}, "per_completed_pickup": {"valley-haul": 40.0,
                                                                                 "westside-recovery": 50.0}}


def last_month() -> tuple[str, date]:
    first = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    return first.strftime("%Y-%m"), first


def seeded_month(first: date) -> list[BookingStory]:
    """15 bookings for pickups in one past month, with known outcomes:

    valley-haul (web): 8 completed (6 by the target date, 2 after it), 1 missed, 1 cancelled;
      rated 5, 4, 4, 3; each told by email, the completed ones also by SMS.
    westside-recovery (3 by a 311 agent, 2 in the app): 4 completed on time, 1 refused by the
      hauler; rated 5 and 2; each told by email.
    """
    day = first + timedelta(days=9)
    stories = []
    for i in range(10):
        s = BookingStory(reference=f"JP-VH-{i:03d}", hauler_id="valley-haul", channel="web", pickup=day,
                         target=day + timedelta(days=2)).dispatched().confirmed().told("email")
        if i < 6:
            s.completed(day).told("sms", "pickup_completed")
        elif i < 8:
            s.completed(day + timedelta(days=5)).told("sms", "pickup_completed")
        elif i == 8:
            s.missed()
        else:
            s.cancelled()
        if i in (0, 1, 2, 6):
            s.rated({0: 5, 1: 4, 2: 4, 6: 3}[i])
        stories.append(s)
    for i in range(5):
        s = BookingStory(reference=f"JP-WR-{i:03d}", hauler_id="westside-recovery",
                         channel="311_agent" if i < 3 else "app", pickup=day, target=day).told("email")
        if i < 4:
            s.dispatched().completed(day)
        else:
            s.rejected()
        if i in (0, 1):
            s.rated({0: 5, 1: 2}[i])
        stories.append(s)
    return stories


@pytest.fixture
async def ops_with_costs(ops_settings, tmp_path):
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps(COSTS))
    app = build_app(ops_settings.model_copy(update={"cost_inputs_file": costs}))
    async with in_process(app) as client:
        from ops import staff

        await staff.create(app.state.runtime.pool, username="vic", display_name="Vic", role="viewer",
                           password=PASSWORD)
        client.pool = app.state.runtime.pool
        yield client


async def test_a_month_of_pickups_gives_the_kpis_the_city_expects(ops_with_costs, ops_settings):
    ops = ops_with_costs
    month, first = last_month()
    stories = seeded_month(first)
    events = [e for s in stories for e in s.events]
    await publish(ops_settings, *events)

    async def all_projected() -> bool:
        async with ops.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM flow_events") == len(events)
    await eventually(all_projected, what="the month's events projected")

    await sign_in(ops, "vic")
    response = await ops.get("/kpis.csv", params={"month": month})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert f"haulbridge-kpis-{month}.csv" in response.headers["content-disposition"]
    rows = {r["hauler_id"]: r for r in csv.DictReader(io.StringIO(response.text))}
    valley, westside, city = rows["valley-haul"], rows["westside-recovery"], rows["all"]

    # valley-haul: 10 booked, 1 cancelled → 9 due; 8 completed, 6 of them by the target date
    assert (valley["bookings"], valley["cancelled"], valley["due"], valley["completed"]) == ("10", "1", "9", "8")
    assert float(valley["completion_rate"]) == pytest.approx(8 / 9, abs=1e-4)
    assert float(valley["on_time_share"]) == pytest.approx(6 / 9, abs=1e-4)
    assert float(valley["satisfaction_average"]) == pytest.approx(4.0)
    assert float(valley["response_rate"]) == pytest.approx(4 / 8)
    assert float(valley["digital_share"]) == pytest.approx(1.0)
    # fixed costs shared by bookings (10 of 15), 10 emails, 8 texts, 8 pickups at 40
    assert float(valley["cost_per_booking"]) == pytest.approx((1000 * 10 / 15 + 10 * 0.001 + 8 * 0.01 + 8 * 40) / 10,
                                                              abs=1e-4)

    # westside-recovery: 5 due, 4 completed on time, 1 refused by the hauler
    assert float(westside["completion_rate"]) == pytest.approx(4 / 5)
    assert float(westside["on_time_share"]) == pytest.approx(4 / 5)
    assert float(westside["satisfaction_average"]) == pytest.approx(3.5)
    assert float(westside["digital_share"]) == pytest.approx(2 / 5)
    assert (westside["311_agent"], westside["app"]) == ("3", "2")
    assert float(westside["cost_per_booking"]) == pytest.approx((1000 * 5 / 15 + 3 * 5 + 5 * 0.001 + 4 * 50) / 5,
                                                                abs=1e-4)

    # the city: 14 due, 12 completed, 10 by the target date — below the 80% goal
    assert float(city["completion_rate"]) == pytest.approx(12 / 14, abs=1e-4)
    assert float(city["on_time_share"]) == pytest.approx(10 / 14, abs=1e-4)
    assert float(city["satisfaction_average"]) == pytest.approx(23 / 6, abs=1e-4)
    assert float(city["response_rate"]) == pytest.approx(6 / 12)
    assert float(city["digital_share"]) == pytest.approx(12 / 15)
    assert float(city["cost_per_booking"]) == pytest.approx((1000 + 15 + 15 * 0.001 + 8 * 0.01 + 320 + 200) / 15,
                                                            abs=1e-4)

    page = await ops.get("/kpis", params={"month": month}, headers=HTML)
    assert "71.4% (below goal)" in page.text and "85.7%" in page.text
