"""Which adapter class serves which vendor kind, and one live adapter per hauler."""
from __future__ import annotations

from ..settings import AdapterSettings
from .base import HaulerAdapter, Integration
from .json_api import JsonApiAdapter

ADAPTER_KINDS = {
    JsonApiAdapter.kind: JsonApiAdapter,
}


class UnsupportedVendorKind(Exception):
    pass


class AdapterRegistry:
    def __init__(self, settings: AdapterSettings) -> None:
        self.settings = settings
        self._adapters: dict[str, tuple[Integration, HaulerAdapter]] = {}

    def adapter_for(self, integration: Integration) -> HaulerAdapter:
        cached = self._adapters.get(integration.hauler_id)
        if cached is not None and cached[0] == integration:
            return cached[1]
        cls = ADAPTER_KINDS.get(integration.kind)
        if cls is None:
            raise UnsupportedVendorKind(f"no adapter for vendor kind '{integration.kind}'")
        s = self.settings
        adapter = cls(integration, timeout=s.vendor_timeout_seconds, attempts=s.vendor_max_attempts,
                      retry_initial=s.vendor_retry_initial_seconds, retry_max=s.vendor_retry_max_seconds)
        self._adapters[integration.hauler_id] = (integration, adapter)
        return adapter

    async def close(self) -> None:
        for _integration, adapter in self._adapters.values():
            await adapter.close()
        self._adapters.clear()
