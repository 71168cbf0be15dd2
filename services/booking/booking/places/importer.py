"""Load a city's haulers, zones (GeoJSON), address points, item catalogue, the haulers'
weekday capacity and the city's holidays (CSV).

Each address point is placed in the zone whose polygon contains it (shapely);
points outside every zone are kept but reported, so the city can fix its data.
The import is one transaction: a bad file changes nothing.
"""
from __future__ import annotations

import csv
import json
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from ..calendar import repository as calendar_repository
from ..catalogue import repository as catalogue_repository
from . import repository
from .normalise import normalise


@dataclass
class ImportReport:
    haulers: int = 0
    zones: int = 0
    address_points: int = 0
    items: int = 0
    capacity_defaults: int = 0
    holidays: int = 0
    outside_every_zone: list[str] = field(default_factory=list)


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def import_city(conn: asyncpg.Connection, folder: Path) -> ImportReport:
    report = ImportReport()
    haulers = _read_csv(folder / "haulers.csv")
    zones = json.loads((folder / "zones.geojson").read_text())["features"]
    points = _read_csv(folder / "address_points.csv")
    items = _read_csv(folder / "items.csv")
    capacity = _read_csv(folder / "capacity.csv") if (folder / "capacity.csv").exists() else []
    holidays = _read_csv(folder / "holidays.csv") if (folder / "holidays.csv").exists() else []

    polygons = [shape(f["geometry"]) for f in zones]
    tree = STRtree(polygons)
    async with conn.transaction():
        for h in haulers:
            await repository.upsert_hauler(conn, h)
        for f in zones:
            p = f["properties"]
            await repository.upsert_zone(conn, id=p["id"], name=p["name"], hauler_id=p["hauler_id"],
                                         collection_day=p.get("collection_day"), boundary=f["geometry"])
        rows = []
        for pt in points:
            lat, lon = float(pt["latitude"]), float(pt["longitude"])
            hits = tree.query(Point(lon, lat), predicate="within")
            zone_id = zones[int(hits[0])]["properties"]["id"] if len(hits) else None
            if zone_id is None:
                report.outside_every_zone.append(pt["address"])
            rows.append((pt["id"], pt["address"], normalise(pt["address"]), pt["house_number"], pt["street"],
                         pt["city"], pt["postcode"], lat, lon, pt["land_use"], zone_id))
        await repository.upsert_address_points(conn, rows)
        await catalogue_repository.upsert_items(conn, [
            (i["code"], i["category"], i["label_en"], i["label_es"], i["label_vi"], i["accepted"] == "true",
             int(i["max_per_booking"]) if i["max_per_booking"] else None, i["alternative"] or None)
            for i in items
        ])
        await calendar_repository.upsert_weekday_defaults(
            conn, [(c["zone_id"], int(c["weekday"]), int(c["pickups"])) for c in capacity])
        await calendar_repository.upsert_city_holidays(
            conn, [(date.fromisoformat(h["day"]), h["reason"]) for h in holidays])
    report.capacity_defaults, report.holidays = len(capacity), len(holidays)
    report.haulers, report.zones, report.address_points, report.items = len(haulers), len(zones), len(rows), len(items)
    return report
