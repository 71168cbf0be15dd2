"""Property-based tests (hypothesis) of the city's availability and quota rules.

Two kinds:

- The date rules as pure functions (``booking.calendar.rules``): lead time in
  business days, the cut-off hour, holidays and the horizon, over random
  moments (city time, DST included), random holiday sets and random rules.
- The same rules as the resident meets them, on the running booking service
  with a real PostgreSQL: random sequences of holds, bookings, cancellations
  and reschedules against small capacities and a household quota, checked
  after every step against a model of what the city promises; and random lead
  times, cut-offs, horizons, holidays, blackouts and capacities against the
  free dates the service offers.

Each database example starts from an empty calendar (no bookings, holds or
capacity rows) in the test's own database; the demo city stays loaded.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, assume, event, example, given, note, settings
from hypothesis import strategies as st

from booking import city_rules
from booking.calendar import repository as calendar_repository
from booking.calendar import rules
from booking.calendar import service as calendar
from devstack.testing import booking_body, eventually, manage_path

CITY = ZoneInfo("America/Los_Angeles")  # BookingSettings.timezone; the rules only see the local wall clock.

# -- the pure rules -------------------------------------------------------------------------------

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(CITY))
leads = st.integers(min_value=0, max_value=10)
cutoffs = st.integers(min_value=0, max_value=23)


@st.composite
def holiday_sets(draw, around: date | None = None) -> frozenset[date]:
    """City holidays, most of them close enough to matter (weekdays and weekends alike)."""
    if around is None:
        return draw(st.frozensets(st.dates(date(2024, 12, 1), date(2031, 3, 1)), max_size=12))
    offsets = draw(st.frozensets(st.integers(min_value=-3, max_value=45), max_size=12))
    return frozenset(around + timedelta(days=o) for o in offsets)


@st.composite
def city_calendars(draw) -> tuple[datetime, frozenset[date]]:
    now = draw(moments)
    return now, draw(holiday_sets(now.date()))


def collected_on(day: date, holidays: frozenset[date]) -> bool:
    """The oracle: the city collects Monday to Friday, except on its holidays."""
    return day.weekday() not in (5, 6) and day not in holidays


def business_days_in(after: date, through: date, holidays: frozenset[date]) -> int:
    """Business days in (after, through]."""
    return sum(collected_on(after + timedelta(days=i), holidays) for i in range(1, (through - after).days + 1))


def counting_from(now: datetime, cutoff: int) -> date:
    return now.date() + timedelta(days=1 if now.hour >= cutoff else 0)


def earliest(now: datetime, lead: int, cutoff: int, holidays: frozenset[date]) -> date:
    return rules.earliest_bookable(now, lead_business_days=lead, cutoff_hour=cutoff, holidays=holidays)


@given(st.dates(date(2025, 1, 1), date(2030, 12, 31)), holiday_sets())
def test_the_city_collects_on_weekdays_that_are_not_holidays(day, holidays):
    assert rules.is_business_day(day, holidays) == collected_on(day, holidays)
    assert not rules.is_business_day(day, holidays | {day})
    if day.weekday() >= 5:
        assert not rules.is_business_day(day, frozenset())


@given(city_calendars(), leads, cutoffs)
def test_a_pickup_is_never_bookable_sooner_than_the_lead_time(calendar_, lead, cutoff):
    now, holidays = calendar_
    result = earliest(now, lead, cutoff, holidays)
    start = counting_from(now, cutoff)
    assert result >= now.date()
    if lead >= 1:
        assert result > now.date(), "with a lead time, today is never bookable"
        assert collected_on(result, holidays), "the earliest date is a collection day"
    assert business_days_in(start, result, holidays) == lead


@given(city_calendars(), st.integers(min_value=1, max_value=10), cutoffs)
def test_the_earliest_date_is_the_first_that_meets_the_lead_time(calendar_, lead, cutoff):
    """Nothing earlier would do: the day before it is one business day short."""
    now, holidays = calendar_
    result = earliest(now, lead, cutoff, holidays)
    assert business_days_in(counting_from(now, cutoff), result - timedelta(days=1), holidays) == lead - 1


@given(city_calendars(), cutoffs)
def test_without_a_lead_time_the_first_counting_day_is_bookable(calendar_, cutoff):
    now, holidays = calendar_
    assert earliest(now, 0, cutoff, holidays) == counting_from(now, cutoff)


@given(city_calendars(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)), leads, cutoffs)
def test_asking_later_never_offers_an_earlier_date(calendar_, wait, lead, cutoff):
    now, holidays = calendar_
    later = (now.astimezone(ZoneInfo("UTC")) + wait).astimezone(CITY)  # real elapsed time, across DST changes
    assert earliest(later, lead, cutoff, holidays) >= earliest(now, lead, cutoff, holidays)


@given(city_calendars(), leads, st.integers(min_value=1, max_value=23), st.data())
def test_after_the_cut_off_today_no_longer_counts(calendar_, lead, cutoff, data):
    """A request after the cut-off gets the same date as one made tomorrow morning, before it;
    before the cut-off, the hour makes no difference."""
    now, holidays = calendar_
    today, tomorrow = now.date(), now.date() + timedelta(days=1)
    before_hour = data.draw(st.integers(min_value=0, max_value=cutoff - 1), label="an hour before the cut-off")
    tomorrow_morning = datetime.combine(tomorrow, time(before_hour))
    today_morning = datetime.combine(today, time(before_hour))
    after_cutoff = datetime.combine(today, time(data.draw(st.integers(cutoff, 23), label="an hour after it")))
    assert earliest(after_cutoff, lead, cutoff, holidays) == earliest(tomorrow_morning, lead, cutoff, holidays)
    assert earliest(today_morning, lead, cutoff, holidays) == earliest(datetime.combine(today, time(0)), lead,
                                                                       cutoff, holidays)
    if now.hour >= cutoff:
        assert earliest(now, lead, cutoff, holidays) == earliest(tomorrow_morning, lead, cutoff, holidays)


@given(city_calendars(), st.integers(min_value=-3, max_value=45), leads, cutoffs)
def test_a_new_holiday_never_brings_the_earliest_date_forward(calendar_, offset, lead, cutoff):
    now, holidays = calendar_
    holiday = now.date() + timedelta(days=offset)
    without, with_it = earliest(now, lead, cutoff, holidays), earliest(now, lead, cutoff, holidays | {holiday})
    assert with_it >= without
    if not (counting_from(now, cutoff) < holiday <= without) or not collected_on(holiday, holidays):
        assert with_it == without, "a holiday outside the counted days, or on a day off anyway, changes nothing"
    elif lead >= 1:
        assert with_it > without, "a holiday on a counted business day pushes the date out"


@given(city_calendars(), leads, leads, cutoffs)
def test_a_longer_lead_time_never_brings_the_earliest_date_forward(calendar_, lead, more, cutoff):
    now, holidays = calendar_
    shorter, longer = sorted((lead, more))
    assert earliest(now, longer, cutoff, holidays) >= earliest(now, shorter, cutoff, holidays)
    if longer > shorter:
        assert earliest(now, longer, cutoff, holidays) > earliest(now, shorter, cutoff, holidays)


@given(st.dates(date(2025, 1, 1), date(2030, 12, 31)), st.integers(min_value=0, max_value=365))
def test_the_horizon_is_counted_in_calendar_days(today, horizon):
    latest = rules.latest_bookable(today, horizon_days=horizon)
    assert (latest - today).days == horizon
    window = list(rules.days_between(today, latest))
    assert len(window) == horizon + 1
    assert window[0] == today and window[-1] == latest
    assert all((b - a).days == 1 for a, b in zip(window, window[1:]))
    assert list(rules.days_between(latest + timedelta(days=1), latest)) == []


# -- on the running service, with a real database ---------------------------------------------------

@pytest.fixture
def booking_settings(booking_settings):
    """The usual settings with the resident rate limit out of the way: every request of these tests comes
    from one client address, and a test's examples together may send more than the 600 a minute allowed."""
    return booking_settings.model_copy(update={"rate_limit_anonymous": "1000000/minute"})


# Fixtures (app, database) are set up once per test; each example starts afresh itself (_start_afresh).
# No shrinking, as in test_api_schema.py: a failure is reported as found (each assertion names the step),
# so a defect cannot stretch the run past the test timeout.
DB_EXAMPLES = settings(max_examples=15, deadline=None, database=None, print_blob=True,
                       phases=[Phase.explicit, Phase.generate],
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ZONE = "downtown"
PROPERTY_TEST = "property test"


async def _start_afresh(api, conn) -> None:
    """An empty calendar: no bookings, holds or per-day capacity; the city's rules and days off as imported."""
    await conn.execute("TRUNCATE booking_history, feedback, photos, bookings, holds, capacity_days, idempotency_keys")
    await conn.execute("DELETE FROM city_rules")
    await conn.execute("DELETE FROM blackout_days WHERE reason = $1", PROPERTY_TEST)
    await _rules_reach(api)


async def _set_rules(api, conn, **changes) -> None:
    """Change the rules as another replica's staff call would: straight in the database."""
    await city_rules.change(conn, city_rules.RuleChanges(**changes), actor=PROPERTY_TEST)
    await _rules_reach(api)


async def _rules_reach(api) -> None:
    # The service caches the rules and drops them when the change's NOTIFY arrives (city_rules.py).
    await eventually(lambda: api.app.state.city_rules.cached is None, timeout=30,
                     what="the service to hear that the city's rules changed")


async def _households(conn, settings, *, zone: str | None, count: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT address FROM address_points WHERE land_use = ANY($1::text[]) AND ($2::text IS NULL OR zone_id = $2)"
        " ORDER BY id LIMIT $3", settings.eligible_land_uses, zone, count)
    assert len(rows) == count, "the demo city has enough eligible households"
    return [r["address"] for r in rows]


async def _free_dates(api, address: str) -> dict:
    r = await api.get("/v1/availability", params={"address": address})
    assert r.status_code == 200, r.text
    body = r.json()
    return {"earliest": date.fromisoformat(body["earliest"]), "latest": date.fromisoformat(body["latest"]),
            "dates": {date.fromisoformat(d["date"]): d["remaining"] for d in body["dates"]}}


def _pickup_days(free: dict, count: int) -> list[date]:
    """Free days far enough out that cancelling and rescheduling are still open, whatever the hour."""
    days = [d for d in sorted(free["dates"]) if d >= free["earliest"] + timedelta(days=3)]
    assert len(days) >= count
    return days[:count]


def _action(booking: dict, action: str) -> str:
    return manage_path(booking).replace("?", f"/{action}?")


def _problem(response) -> str:
    return response.json().get("type", "") if response.status_code >= 400 else ""


def _outcome(step: tuple, expected: str) -> None:
    """What the search reached (shown by --hypothesis-show-statistics)."""
    event(f"{step[0]}: {expected.removeprefix('/problems/') or 'done'}")


# One step a resident may take. Indices pick a household, a day, or an earlier hold/booking (modulo).
HOLD_CHOICE = st.sampled_from(["none", "own", "any"])
CAPACITY_STEPS = {
    "hold": st.tuples(st.just("hold"), st.integers(0, 3), st.integers(0, 1)),
    "book": st.tuples(st.just("book"), st.integers(0, 3), st.integers(0, 1), HOLD_CHOICE, st.integers(0, 20)),
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 20)),
    "reschedule": st.tuples(st.just("reschedule"), st.integers(0, 20), st.integers(0, 1), HOLD_CHOICE,
                            st.integers(0, 20)),
}
# Booking, the step that matters most, is drawn three times as often as each other step.
capacity_steps = st.sampled_from(["hold", "book", "book", "book", "cancel", "reschedule"]).flatmap(
    CAPACITY_STEPS.__getitem__)


class CalendarModel:
    """What the city promises: a day takes at most its pickups, counting bookings and live holds;
    a resident's own hold keeps a pickup for them; cancelling gives the pickup back."""

    def __init__(self, capacity: dict[date, int]) -> None:
        self.capacity = capacity
        self.holds: list[dict] = []      # id, household, day, active
        self.bookings: list[dict] = []   # json, household, day, active

    def booked(self, day: date) -> int:
        return sum(b["active"] and b["day"] == day for b in self.bookings)

    def held(self, day: date, *, but: dict | None = None) -> int:
        return sum(h["active"] and h["day"] == day and h is not but for h in self.holds)

    def refusal(self, day: date, hold: dict | None = None) -> str:
        """'' if a pickup is free for this request; otherwise the problem type the resident should get."""
        others = self.held(day, but=hold)
        if self.booked(day) + others < self.capacity[day]:
            return ""
        return "/problems/slot-held" if others and self.booked(day) < self.capacity[day] else "/problems/slot-full"

    def pick_hold(self, choice: str, index: int, household: int, day: date) -> dict | None:
        if choice == "own":
            return next((h for h in self.holds if h["active"] and h["household"] == household and h["day"] == day),
                        None)
        if choice == "any" and self.holds:
            return self.holds[index % len(self.holds)]
        return None

    @staticmethod
    def hold_fits(hold: dict | None, household: int, day: date) -> bool:
        return hold is None or (hold["active"] and hold["household"] == household and hold["day"] == day)


async def _check_the_calendar(conn, model: CalendarModel, settings) -> None:
    """The capacity rows, the bookings, the holds and the free dates agree with each other and with the model."""
    rows = {r["day"]: r for r in await conn.fetch(
        "SELECT day, pickups, booked FROM capacity_days WHERE zone_id = $1", ZONE)}
    active = dict(await conn.fetch(
        "SELECT pickup_date, count(*) FROM bookings WHERE zone_id = $1 AND status <> 'cancelled' GROUP BY 1", ZONE))
    holds = dict(await conn.fetch(
        "SELECT day, count(*) FROM holds WHERE zone_id = $1 AND released_at IS NULL AND expires_at > now()"
        " GROUP BY 1", ZONE))
    assert set(rows) == set(model.capacity)
    first, last = min(model.capacity), max(model.capacity)
    offered = {d["date"]: d["remaining"] for d in await calendar.availability(
        conn, zone_id=ZONE, first=first, last=last, settings=settings) if d["date"] in model.capacity}
    for day, pickups in model.capacity.items():
        row = rows[day]
        assert row["pickups"] == pickups
        assert row["booked"] == active.get(day, 0) == model.booked(day), f"booked count on {day}"
        assert holds.get(day, 0) == model.held(day), f"live holds on {day}"
        assert row["booked"] + holds.get(day, 0) <= pickups, f"{day} is overbooked"
        remaining = pickups - row["booked"] - holds.get(day, 0)
        assert offered.get(day, 0) == remaining, f"free pickups offered on {day}"
        assert day not in offered or offered[day] > 0


@DB_EXAMPLES
@given(pickups=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       steps=st.lists(capacity_steps, min_size=3, max_size=12))
# The last pickup of a day held by one resident, refused to another, booked with the hold; a full day;
# cancelling frees a pickup; a reschedule into a full day is refused, into a free one moves the pickup.
@example(pickups=(1, 1), steps=[
    ("hold", 0, 0), ("book", 1, 0, "none", 0),                          # the last pickup is held for someone else
    ("book", 1, 0, "any", 0), ("book", 0, 1, "any", 0),                 # nor can their hold be used, nor on another day
    ("book", 0, 0, "own", 0), ("book", 2, 0, "none", 0),                # the holder books; the day is full
    ("book", 2, 1, "none", 0), ("reschedule", 0, 1, "none", 0),         # no moving into a full day
    ("cancel", 1), ("reschedule", 0, 1, "none", 0),                     # cancelling frees it; the move frees day 0
    ("book", 3, 0, "any", 0), ("book", 3, 0, "none", 0),                # a used hold is gone; the freed pickup is not
    ("cancel", 0), ("cancel", 0)])
async def test_a_day_never_takes_more_pickups_than_it_has_however_residents_interleave(
        booking_api, booking_db, booking_settings, pickups, steps):
    await _start_afresh(booking_api, booking_db)
    households = await _households(booking_db, booking_settings, zone=ZONE, count=4)
    days = _pickup_days(await _free_dates(booking_api, households[0]), 2)
    for day, n in zip(days, pickups):
        await calendar_repository.set_capacity(booking_db, ZONE, day, n)
    model = CalendarModel(dict(zip(days, pickups)))
    note(f"days {days}")

    for step in steps:
        kind = step[0]
        if kind == "hold":
            _, who, d = step
            r = await booking_api.post("/v1/holds", json={"address": households[who], "date": days[d].isoformat()})
            expected = model.refusal(days[d])
            assert _problem(r) == expected, (step, r.text)
            _outcome(step, _problem(r))
            if r.status_code == 201:
                model.holds.append({"id": r.json()["id"], "household": who, "day": days[d], "active": True})
        elif kind == "book":
            _, who, d, choice, index = step
            hold = model.pick_hold(choice, index, who, days[d])
            body = booking_body(address=households[who], pickup_date=days[d].isoformat(),
                                **({"hold_id": hold["id"]} if hold else {}))
            r = await booking_api.post("/v1/bookings", json=body)
            expected = "/problems/hold-not-valid" if not model.hold_fits(hold, who, days[d]) \
                else model.refusal(days[d], hold)
            assert _problem(r) == expected, (step, r.text)
            _outcome(step, _problem(r))
            if r.status_code == 201:
                model.bookings.append({"json": r.json(), "household": who, "day": days[d], "active": True})
                if hold:
                    hold["active"] = False
        elif kind == "cancel":
            if not model.bookings:
                continue
            booking = model.bookings[step[1] % len(model.bookings)]
            r = await booking_api.post(_action(booking["json"], "cancel"))
            assert _problem(r) == ("" if booking["active"] else "/problems/illegal-transition"), (step, r.text)
            _outcome(step, _problem(r))
            booking["active"] = False
        else:  # reschedule
            _, index, d, choice, hold_index = step
            if not model.bookings:
                continue
            booking = model.bookings[index % len(model.bookings)]
            hold = model.pick_hold(choice, hold_index, booking["household"], days[d])
            r = await booking_api.post(_action(booking["json"], "reschedule"), json={
                "pickup_date": days[d].isoformat(), **({"hold_id": hold["id"]} if hold else {})})
            if not booking["active"]:
                expected = "/problems/illegal-transition"
            elif days[d] == booking["day"]:
                expected = ""  # the same date: nothing to do
            elif not model.hold_fits(hold, booking["household"], days[d]):
                expected = "/problems/hold-not-valid"
            else:
                expected = model.refusal(days[d], hold)
            assert _problem(r) == expected, (step, r.text)
            _outcome(step, _problem(r))
            if r.status_code == 200 and days[d] != booking["day"]:
                booking["day"] = days[d]
                if hold:
                    hold["active"] = False
        await _check_the_calendar(booking_db, model, booking_settings)

    # What the resident is shown over HTTP is the same.
    free = (await _free_dates(booking_api, households[0]))["dates"]
    for day in days:
        remaining = model.capacity[day] - model.booked(day) - model.held(day)
        assert free.get(day, 0) == remaining


# The household quota. Bookings only (the capacity of a demo day, 20, is never reached here).
QUOTA_STEPS = {
    "book": st.tuples(st.just("book"), st.integers(0, 1), st.integers(0, 3)),
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 20)),
    "reschedule": st.tuples(st.just("reschedule"), st.integers(0, 20), st.integers(0, 3)),
}
# Mostly bookings, so the quota is reached.
quota_steps = st.sampled_from(["book", "book", "book", "book", "cancel", "reschedule"]).flatmap(QUOTA_STEPS.__getitem__)


async def _quota_days(api, address: str) -> list[date]:
    """Four free days: two in each of the first two calendar years the (365-day) window reaches."""
    free = await _free_dates(api, address)
    days = [d for d in sorted(free["dates"]) if d >= free["earliest"] + timedelta(days=3)]
    years = sorted({d.year for d in days})[:2]
    picked = [d for y in years for d in [d for d in days if d.year == y][:2]]
    assert len(picked) >= 2
    return picked


def _in_year(model: list[dict], household: int, year: int) -> int:
    return sum(b["active"] and b["household"] == household and b["day"].year == year for b in model)


@DB_EXAMPLES
@given(quota=st.integers(1, 3), steps=st.lists(quota_steps, min_size=3, max_size=12))
# Used up, refused, cancelled, and booked again; the other household and the other year are not affected.
@example(quota=1, steps=[("book", 0, 0), ("book", 0, 1), ("book", 1, 0), ("book", 0, 2), ("cancel", 0),
                         ("book", 0, 1), ("reschedule", 3, 0)])
async def test_a_household_never_has_more_active_pickups_in_a_year_than_its_quota(
        booking_api, booking_db, booking_settings, quota, steps):
    await _start_afresh(booking_api, booking_db)
    await _set_rules(booking_api, booking_db, household_quota_per_year=quota, horizon_days=365)
    households = await _households(booking_db, booking_settings, zone=None, count=2)
    days = await _quota_days(booking_api, households[0])
    note(f"days {days}")
    bookings: list[dict] = []

    for step in steps:
        kind = step[0]
        if kind == "book":
            _, who, d = step
            day = days[d % len(days)]
            r = await booking_api.post("/v1/bookings", json=booking_body(address=households[who],
                                                                         pickup_date=day.isoformat()))
            expected = "" if _in_year(bookings, who, day.year) < quota else "/problems/quota-exceeded"
            assert _problem(r) == expected, (step, r.text)
            _outcome(step, _problem(r))
            if r.status_code == 201:
                bookings.append({"json": r.json(), "household": who, "day": day, "active": True})
            else:
                assert r.json()["quota"] == quota and r.json()["used"] == quota
        elif not bookings:
            continue
        elif kind == "cancel":
            booking = bookings[step[1] % len(bookings)]
            r = await booking_api.post(_action(booking["json"], "cancel"))
            assert _problem(r) == ("" if booking["active"] else "/problems/illegal-transition"), (step, r.text)
            _outcome(step, _problem(r))
            booking["active"] = False
        else:  # reschedule, within the pickup's own year (see the cross-year test below)
            booking = bookings[step[1] % len(bookings)]
            same_year = [d for d in days if d.year == booking["day"].year]
            day = same_year[step[2] % len(same_year)]
            r = await booking_api.post(_action(booking["json"], "reschedule"), json={"pickup_date": day.isoformat()})
            assert _problem(r) == ("" if booking["active"] else "/problems/illegal-transition"), (step, r.text)
            _outcome(step, _problem(r))
            if booking["active"]:
                booking["day"] = day

        counts = await booking_db.fetch(
            "SELECT a.address, extract(year FROM b.pickup_date)::int AS year, count(*) AS n FROM bookings b"
            " JOIN address_points a ON a.id = b.address_id WHERE b.status <> 'cancelled' GROUP BY 1, 2")
        for row in counts:
            assert row["n"] <= quota, f"{row['address']} has {row['n']} pickups in {row['year']}, quota {quota}"
            who = households.index(row["address"])
            assert row["n"] == _in_year(bookings, who, row["year"])
        assert sum(r["n"] for r in counts) == sum(b["active"] for b in bookings)


async def test_rescheduling_into_another_year_respects_that_years_quota(booking_api, booking_db, booking_settings):
    await _set_rules(booking_api, booking_db, household_quota_per_year=1, horizon_days=365)
    household = (await _households(booking_db, booking_settings, zone=None, count=1))[0]
    days = await _quota_days(booking_api, household)
    if len({d.year for d in days}) < 2:
        pytest.skip("the bookable window reaches one calendar year only today")
    this_year, next_year = days[0], next(d for d in days if d.year > days[0].year)
    first = await booking_api.post("/v1/bookings", json=booking_body(address=household,
                                                                     pickup_date=this_year.isoformat()))
    second = await booking_api.post("/v1/bookings", json=booking_body(address=household,
                                                                      pickup_date=next_year.isoformat()))
    if (first.status_code, second.status_code) != (201, 201):  # one pickup in each year is within the quota
        pytest.fail(f"{first.text} {second.text}")
    moved = await booking_api.post(_action(first.json(), "reschedule"), json={"pickup_date": next_year.isoformat()})
    assert moved.status_code == 409 and _problem(moved) == "/problems/quota-exceeded", \
        f"a second pickup in {next_year.year} with a quota of 1: {moved.status_code} {moved.text}"
    assert await booking_db.fetchval(
        "SELECT count(*) FROM bookings WHERE status <> 'cancelled' AND pickup_date >= $1", date(next_year.year, 1, 1)
    ) == 1


# Free dates: random rules, holidays, blackouts and capacities against what the resident is offered.
offsets = st.integers(min_value=-2, max_value=100)  # days from the city's today


@DB_EXAMPLES
@given(lead=st.integers(0, 5), cutoff=cutoffs, horizon=st.integers(1, 90),
       holidays=st.frozensets(offsets, max_size=8), blackouts=st.frozensets(offsets, max_size=6),
       elsewhere=st.frozensets(offsets, max_size=4),
       pickups=st.dictionaries(offsets, st.integers(0, 3), max_size=10),
       tries=st.lists(offsets, min_size=1, max_size=3, unique=True))
async def test_free_dates_are_exactly_the_bookable_days_with_pickups_left(
        booking_api, booking_db, booking_settings, lead, cutoff, horizon, holidays, blackouts, elsewhere, pickups,
        tries):
    await _start_afresh(booking_api, booking_db)
    await _set_rules(booking_api, booking_db, min_lead_days=lead, lead_cutoff_hour=cutoff, horizon_days=horizon)
    rules_in_force = await city_rules.effective(booking_db, booking_settings)
    today = calendar.now_local(rules_in_force).date()
    for zone, chosen in ((None, holidays), (ZONE, blackouts), ("west", elsewhere)):
        await booking_db.executemany(
            "INSERT INTO blackout_days (zone_id, day, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(zone, today + timedelta(days=o), PROPERTY_TEST) for o in chosen])
    for o, n in pickups.items():
        await calendar_repository.set_capacity(booking_db, ZONE, today + timedelta(days=o), n)
    household = (await _households(booking_db, booking_settings, zone=ZONE, count=1))[0]

    city_holidays = {r["day"] for r in await booking_db.fetch("SELECT day FROM blackout_days WHERE zone_id IS NULL")}
    days_off = city_holidays | {r["day"] for r in await booking_db.fetch(
        "SELECT day FROM blackout_days WHERE zone_id = $1", ZONE)}
    defaults = dict(await booking_db.fetch("SELECT weekday, pickups FROM zone_capacity_defaults WHERE zone_id = $1",
                                           ZONE))

    def window() -> tuple[date, date]:
        now = calendar.now_local(rules_in_force)
        return (rules.earliest_bookable(now, lead_business_days=lead, cutoff_hour=cutoff, holidays=city_holidays),
                rules.latest_bookable(now.date(), horizon_days=horizon))

    before = window()
    r = await booking_api.get("/v1/availability", params={
        "address": household, "from": (today - timedelta(days=2)).isoformat(),
        "to": (today + timedelta(days=100)).isoformat()})
    assume(window() == before)  # the city's clock did not pass the cut-off or midnight meanwhile
    assert r.status_code == 200, r.text
    first, last = before
    assert (date.fromisoformat(r.json()["earliest"]), date.fromisoformat(r.json()["latest"])) == (first, last)
    offered = {date.fromisoformat(d["date"]): d["remaining"] for d in r.json()["dates"]}

    expected = {}
    for day in rules.days_between(first, last):
        n = pickups.get((day - today).days, defaults.get(day.weekday(), 0))
        if day not in days_off and n > 0:
            expected[day] = n
    assert offered == expected
    event(f"{'some' if offered else 'no'} free dates offered")
    assert all(first <= d <= last and d not in days_off for d in offered)
    if lead >= 1:
        assert all(d > today for d in offered)

    # A date offered can be held; a date not offered cannot, and the resident is told why. Always tried
    # too: both ends of the window and the days just outside it.
    edges = {first - timedelta(days=1), first, last, last + timedelta(days=1)}
    for day in sorted(edges | {today + timedelta(days=o) for o in tries}):
        held = await booking_api.post("/v1/holds", json={"address": household, "date": day.isoformat()})
        assume(window() == before)
        event(f"hold on a day {'offered' if day in offered else 'not offered'}")
        if day in offered:
            assert held.status_code == 201, held.text
        elif day < first or day > last or day in days_off:
            assert _problem(held) == "/problems/date-not-bookable", held.text
        else:
            assert _problem(held) == "/problems/slot-full", held.text

