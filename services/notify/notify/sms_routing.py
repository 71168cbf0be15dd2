"""Which SMS provider sends the next text.

Each provider has a weight (its priority: Pelican 3, Kestrel 1 by default). What it earns is
its weight × (its recent success rate)², recent being the last ``NOTIFY_SMS_HEALTH_WINDOW_SECONDS``;
the first provider for a text is drawn by those shares, the rest follow as fallbacks, best
first. So when one provider's errors rise its traffic shifts to the other, and a provider that
failed everything keeps ``NOTIFY_SMS_MIN_SHARE`` of its weight: those few sends (each one falls
over to the next provider at once, nobody waits) show when it has recovered, and as its failures
age out of the window its share drifts back. Health is per notify process.
"""
from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from prometheus_client import Counter, Gauge

SENDS = Counter("haulbridge_notify_sms_sends_total", "SMS send calls per provider and outcome",
                ["provider", "outcome"])
SHARE = Gauge("haulbridge_notify_sms_provider_share",
              "Share of new texts each SMS provider gets now (weight × recent success rate²)", ["provider"])


class Provider(Protocol):
    name: str
    weight: float


class SmsRouter:
    def __init__(self, providers: Sequence[Provider], *, window_seconds: float = 60.0, min_share: float = 0.05,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.providers = list(providers)
        self.window_seconds = window_seconds
        self.min_share = min_share
        self.rng = rng or random.Random()
        self.clock = clock
        self._outcomes: dict[str, deque[tuple[float, bool]]] = {p.name: deque() for p in self.providers}

    def record(self, provider: str, ok: bool, outcome: str) -> None:
        """One send call's result: ``ok`` when the provider did its job (took or refused the text)."""
        SENDS.labels(provider, outcome).inc()
        self._outcomes[provider].append((self.clock(), ok))
        self._publish()

    def success_rate(self, provider: str) -> float:
        outcomes = self._outcomes[provider]
        horizon = self.clock() - self.window_seconds
        while outcomes and outcomes[0][0] < horizon:
            outcomes.popleft()
        return sum(ok for _, ok in outcomes) / len(outcomes) if outcomes else 1.0

    def earned(self, provider: Provider) -> float:
        return provider.weight * max(self.min_share, self.success_rate(provider.name) ** 2)

    def shares(self) -> dict[str, float]:
        earned = {p.name: self.earned(p) for p in self.providers}
        total = sum(earned.values()) or 1.0
        return {name: value / total for name, value in earned.items()}

    def order(self, pinned: str | None = None) -> list[Provider]:
        """Providers to try for one text, in order. ``pinned``: only that one (a re-drive that
        relies on its idempotency, or a reply on the provider the resident texted)."""
        if pinned is not None:
            return [p for p in self.providers if p.name == pinned]
        if not self.providers:
            return []
        earned = [self.earned(p) for p in self.providers]
        first = self.rng.choices(self.providers, weights=earned)[0]
        rest = sorted((p for p in self.providers if p is not first), key=self.earned, reverse=True)
        return [first, *rest]

    def _publish(self) -> None:
        for name, share in self.shares().items():
            SHARE.labels(name).set(share)
