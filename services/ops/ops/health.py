"""Live health of the platform, read from the services' own ``/metrics`` every few seconds:
consumer lag per group and partition, outbox backlog per service, and per hauler the share of
vendor calls answered, the 95th percentile of their latency and the circuit breaker's state.

Rates and percentiles are over the last ``WINDOW_SECONDS`` (the difference between the newest
reading and the oldest one kept); until two readings exist, over everything since each service
started.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from haulbridge_runtime.logs import get_logger

from .metrics import SCRAPE_UP

log = get_logger(__name__)

WINDOW_SECONDS = 300.0
ANSWERED = ("ok", "refused")  # a refusal is the hauler working; unavailable/circuit_open/error are not


@dataclass
class Reading:
    at: float
    samples: dict[str, list[tuple[str, dict[str, str], float]]] = field(default_factory=dict)  # per target

    def values(self, target: str, name: str) -> list[tuple[dict[str, str], float]]:
        return [(labels, value) for sample, labels, value in self.samples.get(target, []) if sample == name]


def parse(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


class Health:
    def __init__(self, targets: dict[str, str], *, every_seconds: float) -> None:
        self.targets = targets  # service name → base URL
        self.every = every_seconds
        self.readings: deque[Reading] = deque()
        self.up: dict[str, bool] = {}

    async def read_once(self, client: httpx.AsyncClient) -> Reading:
        reading = Reading(at=time.monotonic())

        async def one(name: str, url: str) -> None:
            try:
                response = await client.get(f"{url}/metrics", timeout=5)
                response.raise_for_status()
                reading.samples[name] = parse(response.text)
                self.up[name] = True
            except Exception as exc:  # a service that does not answer is shown as down, not an error here
                self.up[name] = False
                log.warning("cannot read a service's metrics", target=name, error=repr(exc))
            SCRAPE_UP.labels(name).set(1 if self.up[name] else 0)

        await asyncio.gather(*(one(n, u) for n, u in self.targets.items()))
        self.readings.append(reading)
        while len(self.readings) > 2 and reading.at - self.readings[0].at > WINDOW_SECONDS:
            self.readings.popleft()
        return reading

    async def run(self) -> None:
        async with httpx.AsyncClient() as client:
            while True:
                await self.read_once(client)
                await asyncio.sleep(self.every)

    # -- what the overview shows --------------------------------------------------------------
    @property
    def latest(self) -> Reading | None:
        return self.readings[-1] if self.readings else None

    def consumer_lag(self) -> list[dict]:
        latest = self.latest
        if latest is None:
            return []
        rows = [{"group": labels.get("service"), "topic": labels.get("topic"), "partition": labels.get("partition"),
                 "lag": int(value)}
                for target in latest.samples for labels, value in latest.values(target, "haulbridge_consumer_lag")]
        return sorted(rows, key=lambda r: (r["group"] or "", r["topic"] or "", int(r["partition"] or 0)))

    def outbox_backlog(self) -> dict[str, int]:
        latest = self.latest
        if latest is None:
            return {}
        return {labels.get("service"): int(value) for target in latest.samples
                for labels, value in latest.values(target, "haulbridge_outbox_backlog")}

    def _delta(self, target: str, name: str) -> list[tuple[dict[str, str], float]]:
        """The counter's increase over the window, per label set."""
        latest = self.latest
        first = self.readings[0] if len(self.readings) > 1 else None
        before = {tuple(sorted(labels.items())): value for labels, value in first.values(target, name)} if first else {}
        out = []
        for labels, value in latest.values(target, name):
            previous = before.get(tuple(sorted(labels.items())), 0.0)
            out.append((labels, value - previous if value >= previous else value))  # a restart resets counters
        return out

    def haulers(self, target: str = "hauler-adapters") -> dict[str, dict]:
        """Per hauler: calls, share answered, p95 latency (seconds) over the window, circuit open."""
        if self.latest is None:
            return {}
        cards: dict[str, dict] = {}
        for labels, n in self._delta(target, "haulbridge_adapters_vendor_calls_total"):
            card = cards.setdefault(labels["hauler"], {"calls": 0.0, "answered": 0.0, "buckets": {}})
            card["calls"] += n
            if labels.get("outcome") in ANSWERED:
                card["answered"] += n
        for labels, n in self._delta(target, "haulbridge_adapters_vendor_call_seconds_bucket"):
            card = cards.setdefault(labels["hauler"], {"calls": 0.0, "answered": 0.0, "buckets": {}})
            le = float(labels["le"])
            card["buckets"][le] = card["buckets"].get(le, 0.0) + n
        for labels, value in self.latest.values(target, "haulbridge_adapters_circuit_open"):
            cards.setdefault(labels["hauler"], {"calls": 0.0, "answered": 0.0, "buckets": {}})["circuit_open"] = \
                value >= 1
        result = {}
        for hauler, card in cards.items():
            result[hauler] = {
                "calls": int(card["calls"]),
                "success_rate": card["answered"] / card["calls"] if card["calls"] else None,
                "p95_seconds": quantile(card["buckets"], 0.95),
                "circuit_open": card.get("circuit_open", False),
            }
        return result


def quantile(buckets: dict[float, float], q: float) -> float | None:
    """The q-quantile from cumulative histogram buckets (le → count), as Prometheus'
    histogram_quantile does: linear within the bucket it falls in."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = le, count
    return lower
