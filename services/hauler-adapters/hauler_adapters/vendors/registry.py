"""Which adapter class serves which vendor kind, and one live adapter per hauler."""
from __future__ import annotations

from ..settings import AdapterSettings
from .base import InvalidIntegration, Integration
from .guard import Circuits, GuardedAdapter
from .declarative import DeclarativeJsonAdapter
from .email_office import EmailOfficeAdapter
from .json_api import JsonApiAdapter
from .soap import SoapWorkOrderAdapter

ADAPTER_KINDS = {cls.kind: cls for cls in (JsonApiAdapter, DeclarativeJsonAdapter, SoapWorkOrderAdapter,
                                            EmailOfficeAdapter)}
# Vendors without webhooks: the poller asks them about open jobs.
POLLED_KINDS = {kind for kind, cls in ADAPTER_KINDS.items() if hasattr(cls, "fetch_status")}


class UnsupportedVendorKind(Exception):
    """No adapter can serve this integration (unknown kind, or a configuration that cannot work)."""


class AdapterRegistry:
    def __init__(self, settings: AdapterSettings) -> None:
        self.settings = settings
        self.circuits = Circuits(threshold=settings.circuit_threshold, open_seconds=settings.circuit_open_seconds)
        self._adapters: dict[str, tuple[Integration, GuardedAdapter]] = {}

    def adapter_for(self, integration: Integration) -> GuardedAdapter:
        cached = self._adapters.get(integration.hauler_id)
        if cached is not None and cached[0] == integration:
            return cached[1]
        cls = ADAPTER_KINDS.get(integration.kind)
        if cls is None:
            raise UnsupportedVendorKind(f"no adapter for vendor kind '{integration.kind}'")
        s = self.settings
        try:
            adapter = cls(integration, timeout=s.vendor_timeout_seconds, attempts=s.vendor_max_attempts,
                          retry_initial=s.vendor_retry_initial_seconds, retry_max=s.vendor_retry_max_seconds)
        except InvalidIntegration as exc:
            raise UnsupportedVendorKind(f"hauler '{integration.hauler_id}': {exc}") from exc
        adapter = GuardedAdapter(adapter, hauler_id=integration.hauler_id, circuits=self.circuits,
                                 concurrency=s.vendor_concurrency)
        self._adapters[integration.hauler_id] = (integration, adapter)
        return adapter

    async def close(self) -> None:
        for _integration, adapter in self._adapters.values():
            await adapter.close()
        self._adapters.clear()
