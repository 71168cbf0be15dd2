"""The city's own service KPIs (the digital services strategy's four, plus its 80% promise),
per hauler and per month, from the read model.

A booking counts in the month of its pickup date. For bookings not cancelled:

- **completion rate**: completed ÷ due (pickup date already past, or an outcome known);
- **on time**: completed on or before the target date the resident was told ÷ due (goal ≥ 80%);
- **satisfaction**: the average rating (1–5) and the share of completed pickups rated;
- **digital take-up**: bookings made on the web, in the app or through Open311 ÷ all bookings
  (the rest came through a 311 agent on the phone);
- **cost per booking**: the configured cost inputs for the month — fixed costs, handling per
  channel, each message, the hauler's fee per completed pickup — ÷ bookings. Fixed costs are
  shared between haulers by their number of bookings.
"""
from __future__ import annotations

import calendar
import csv
import io
import json
from dataclasses import dataclass
from datetime import date, tzinfo
from pathlib import Path

from pydantic import BaseModel, Field

DIGITAL_CHANNELS = ("web", "app", "open311")
OUTCOMES = ("completed", "missed", "rejected", "dispatch_failed")


class CostInputs(BaseModel):
    """What the service costs the city (OPS_COST_INPUTS_FILE; see deploy/config/cost-inputs.demo.json)."""

    currency: str = "USD"
    monthly_fixed: dict[str, float] = Field(default_factory=dict, description="name → amount per month")
    per_booking_by_channel: dict[str, float] = Field(default_factory=dict, description="handling cost per booking")
    per_message: dict[str, float] = Field(default_factory=dict, description="email, sms → cost per message sent")
    per_completed_pickup: dict[str, float] = Field(default_factory=dict, description="hauler id → fee per pickup")

    @classmethod
    def load(cls, path: Path | None) -> "CostInputs | None":
        return cls.model_validate(json.loads(Path(path).read_text())) if path else None


@dataclass
class Kpis:
    month: str
    hauler_id: str  # a hauler, or "all"
    bookings: int
    cancelled: int
    due: int
    completed: int
    completed_on_time: int
    missed: int
    rated: int
    rating_sum: int
    digital: int
    by_channel: dict[str, int]
    cost: float | None

    @property
    def completion_rate(self) -> float | None:
        return self.completed / self.due if self.due else None

    @property
    def on_time_share(self) -> float | None:
        return self.completed_on_time / self.due if self.due else None

    @property
    def satisfaction_average(self) -> float | None:
        return self.rating_sum / self.rated if self.rated else None

    @property
    def response_rate(self) -> float | None:
        return self.rated / self.completed if self.completed else None

    @property
    def digital_share(self) -> float | None:
        return self.digital / self.bookings if self.bookings else None

    @property
    def cost_per_booking(self) -> float | None:
        return self.cost / self.bookings if self.cost is not None and self.bookings else None

    def figures(self) -> dict[str, float | None]:
        return {"completion_rate": self.completion_rate, "on_time_share": self.on_time_share,
                "satisfaction_average": self.satisfaction_average, "response_rate": self.response_rate,
                "digital_share": self.digital_share, "cost_per_booking": self.cost_per_booking}


def month_bounds(month: str) -> tuple[date, date]:
    year, mon = (int(x) for x in month.split("-"))
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def _completed_day(row, city) -> date | None:
    at = row["completed_at"]
    return at.astimezone(city).date() if at else None


def compute(rows, *, month: str, today: date, costs: CostInputs | None, city: tzinfo) -> list[Kpis]:
    """Every hauler's KPIs for the month, then the city's ("all")."""
    by_hauler: dict[str, list] = {}
    for row in rows:
        by_hauler.setdefault(row["hauler_id"] or "unassigned", []).append(row)
    total = len(rows)
    result = [_one(month, hauler, hauler_rows, today=today, costs=costs, share=len(hauler_rows) / total, city=city)
              for hauler, hauler_rows in sorted(by_hauler.items())]
    result.append(_one(month, "all", rows, today=today, costs=costs, share=1.0, city=city))
    return result


def _one(month: str, hauler_id: str, rows, *, today: date, costs: CostInputs | None, share: float, city: tzinfo
         ) -> Kpis:
    live = [r for r in rows if r["status"] != "cancelled"]
    due = [r for r in live if r["status"] in OUTCOMES or (r["pickup_date"] and r["pickup_date"] < today)]
    completed = [r for r in due if r["status"] == "completed"]
    on_time = [r for r in completed if r["target_date"] and (done := _completed_day(r, city)) and done <= r["target_date"]]
    rated = [r for r in completed if r["rating"] is not None]
    by_channel: dict[str, int] = {}
    for r in rows:
        by_channel[r["channel"] or "unknown"] = by_channel.get(r["channel"] or "unknown", 0) + 1
    cost = None
    if costs is not None:
        cost = sum(costs.monthly_fixed.values()) * share
        cost += sum(costs.per_booking_by_channel.get(r["channel"] or "", 0.0) for r in rows)
        cost += sum(r["sms"] for r in rows) * costs.per_message.get("sms", 0.0)
        cost += sum(r["emails"] for r in rows) * costs.per_message.get("email", 0.0)
        cost += sum(costs.per_completed_pickup.get(r["hauler_id"] or "", 0.0) for r in completed)
    return Kpis(month=month, hauler_id=hauler_id, bookings=len(rows), cancelled=len(rows) - len(live), due=len(due),
                completed=len(completed), completed_on_time=len(on_time),
                missed=sum(1 for r in due if r["status"] == "missed"), rated=len(rated),
                rating_sum=sum(r["rating"] for r in rated), digital=sum(1 for r in rows if r["channel"] in
                                                                           DIGITAL_CHANNELS),
                by_channel=by_channel, cost=cost)


CSV_FIELDS = ("month", "hauler_id", "bookings", "cancelled", "due", "completed", "completed_on_time", "missed",
              "completion_rate", "on_time_share", "satisfaction_average", "response_rate", "digital_share",
              "web", "app", "open311", "311_agent", "cost", "cost_per_booking")


def to_csv(kpis: list[Kpis]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for k in kpis:
        figures = {name: ("" if value is None else round(value, 4)) for name, value in k.figures().items()}
        writer.writerow({"month": k.month, "hauler_id": k.hauler_id, "bookings": k.bookings, "cancelled": k.cancelled,
                         "due": k.due, "completed": k.completed, "completed_on_time": k.completed_on_time,
                         "missed": k.missed, **figures, **{c: k.by_channel.get(c, 0) for c in
                                                           ("web", "app", "open311", "311_agent")},
                         "cost": "" if k.cost is None else round(k.cost, 2)})
    return out.getvalue()
