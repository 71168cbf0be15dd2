"""The ops service's own metrics (docs/metrics.md): the city's KPIs and what ops sees of the others."""
from __future__ import annotations

from prometheus_client import Gauge

KPI_VALUE = Gauge("haulbridge_kpi_value", "A KPI for the current month so far (hauler 'all': the city's)",
                  ["kpi", "hauler"])
KPI_GOAL = Gauge("haulbridge_kpi_goal", "The city's goal for a KPI", ["kpi"])
DEAD_LETTERS_PARKED = Gauge("haulbridge_ops_dead_letters_parked",
                            "Events parked in <topic>.dlq and not yet replayed or discarded, as ops sees them",
                            ["topic"])
SCRAPE_UP = Gauge("haulbridge_ops_scrape_up", "1 when ops last read the service's /metrics", ["target"])
