"""Which adapter class serves which vendor kind, and one live adapter per hauler."""
from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..settings import AdapterSettings
from .base import InvalidIntegration, Integration
from .guard import Circuits, GuardedAdapter, VendorCall
from .batch_files import BatchFilesAdapter
from .declarative import DeclarativeJsonAdapter
from .email_office import EmailOfficeAdapter
from .json_api import JsonApiAdapter
from .soap import SoapWorkOrderAdapter

ADAPTER_KINDS = {cls.kind: cls for cls in (JsonApiAdapter, DeclarativeJsonAdapter, SoapWorkOrderAdapter,
                                            EmailOfficeAdapter, BatchFilesAdapter)}
# Vendors without webhooks: the poller asks them about open jobs.
POLLED_KINDS = {kind for kind, cls in ADAPTER_KINDS.items() if hasattr(cls, "fetch_status")}


class UnsupportedVendorKind(Exception):
    """No adapter can serve this integration (unknown kind, or a configuration that cannot work)."""


class AdapterRegistry:
    def __init__(self, settings: AdapterSettings, *, record: Callable[[VendorCall], None] | None = None) -> None:
        """``record``: told of every call about one booking (see guard.py); it must not block."""
        self.settings = settings
        self.record = record
        self.circuits = Circuits(threshold=settings.circuit_threshold, open_seconds=settings.circuit_open_seconds)
        self._adapters: dict[str, tuple[Integration, GuardedAdapter]] = {}
        self._closing: set[asyncio.Task] = set()

    def adapter_for(self, integration: Integration) -> GuardedAdapter:
        cached = self._adapters.get(integration.hauler_id)
        if cached is not None and cached[0] == integration:
            return cached[1]
        adapter = GuardedAdapter(self._build(integration), hauler_id=integration.hauler_id, circuits=self.circuits,
                                 concurrency=self.settings.vendor_concurrency, record=self.record)
        self._adapters[integration.hauler_id] = (integration, adapter)
        if cached is not None:  # the integration changed: the old adapter's connections go
            closing = asyncio.create_task(cached[1].close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        return adapter

    async def check(self, integration: Integration) -> None:
        """Raise :class:`UnsupportedVendorKind` saying why when this integration cannot work."""
        await self._build(integration).close()

    def _build(self, integration: Integration):
        cls = ADAPTER_KINDS.get(integration.kind)
        if cls is None:
            raise UnsupportedVendorKind(f"no adapter for vendor kind '{integration.kind}' "
                                        f"(kinds: {', '.join(sorted(ADAPTER_KINDS))})")
        s = self.settings
        try:
            return cls(integration, timeout=s.vendor_timeout_seconds, attempts=s.vendor_max_attempts,
                       retry_initial=s.vendor_retry_initial_seconds, retry_max=s.vendor_retry_max_seconds)
        except InvalidIntegration as exc:
            raise UnsupportedVendorKind(f"hauler '{integration.hauler_id}': {exc}") from exc

    async def close(self) -> None:
        for _integration, adapter in self._adapters.values():
            await adapter.close()
        self._adapters.clear()
        await asyncio.gather(*self._closing, return_exceptions=True)
