"""Hauler health as the console shows it, from the adapters' own metrics text."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ops.health import Health, Reading, parse, quantile


def adapters_metrics(calls: dict[tuple[str, str], int], latencies: list[float], circuit_open: bool) -> str:
    registry = CollectorRegistry()
    counter = Counter("haulbridge_adapters_vendor_calls", "", ["hauler", "operation", "outcome"], registry=registry)
    seconds = Histogram("haulbridge_adapters_vendor_call_seconds", "", ["hauler", "operation"], registry=registry,
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5))
    circuit = Gauge("haulbridge_adapters_circuit_open", "", ["hauler"], registry=registry)
    for (hauler, outcome), n in calls.items():
        counter.labels(hauler, "dispatch", outcome).inc(n)
    for value in latencies:
        seconds.labels("valley-haul", "dispatch").observe(value)
    circuit.labels("valley-haul").set(1 if circuit_open else 0)
    return generate_latest(registry).decode()


def test_the_95th_percentile_interpolates_like_prometheus():
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile(buckets, 0.95) == 0.75
    assert quantile(buckets, 0.5) == 0.1
    assert quantile({}, 0.95) is None


def test_a_hauler_card_counts_only_the_last_window():
    health = Health({"hauler-adapters": "http://unused"}, every_seconds=5)
    before = adapters_metrics({("valley-haul", "ok"): 100}, [0.04] * 100, circuit_open=False)
    # since then: 10 answered (8 ok, 2 refused by the hauler), 10 not (timeouts, 5xx), the circuit opened
    after = adapters_metrics({("valley-haul", "ok"): 108, ("valley-haul", "refused"): 2,
                              ("valley-haul", "unavailable"): 10}, [0.04] * 100 + [0.2] * 10, circuit_open=True)
    now = time.monotonic()
    health.readings.extend([Reading(at=now - 60, samples={"hauler-adapters": parse(before)}),
                            Reading(at=now, samples={"hauler-adapters": parse(after)})])
    card = health.haulers()["valley-haul"]
    assert card["calls"] == 20 and card["success_rate"] == 0.5 and card["circuit_open"] is True
    assert 0.1 < card["p95_seconds"] <= 0.25  # the window's calls took 200 ms; the older fast ones do not count
