"""The figures on the overview page, from the read model and the live health readings."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from haulbridge_runtime import topics

from . import repository
from .health import Health

MINUTES = 30


async def figures(pool, health: Health) -> dict:
    async with pool.acquire() as conn:
        per_minute = await repository.events_per_minute(conn, minutes=MINUTES)
        by_status = await repository.bookings_by_status(conn)
        parked = await repository.parked_by_topic(conn)
        last_reports = await repository.last_report_per_hauler(conn)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    minutes = [now - timedelta(minutes=MINUTES - 1 - i) for i in range(MINUTES)]
    series = {t: [0] * MINUTES for t in topics.ALL_TOPICS}
    for row in per_minute:
        if row["topic"] in series and row["minute"] in minutes:
            series[row["topic"]][minutes.index(row["minute"])] = row["events"]
    hauler_health = health.haulers()
    haulers = sorted(set(hauler_health) | set(last_reports))
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "events_per_minute": {"minutes": [m.strftime("%H:%M") for m in minutes], "series": series},
        "bookings_by_status": dict(sorted(by_status.items())),
        "consumer_lag": health.consumer_lag(),
        "outbox_backlog": health.outbox_backlog(),
        "dead_letters": {t: parked.get(t, 0) for t in topics.ALL_TOPICS},
        "services_up": dict(sorted(health.up.items())),
        "haulers": [{"hauler_id": h, **hauler_health.get(h, {"calls": 0, "success_rate": None, "p95_seconds": None,
                                                               "circuit_open": False}),
                     "last_report_at": last_reports[h].isoformat(timespec="seconds") if h in last_reports else None}
                    for h in haulers],
    }
