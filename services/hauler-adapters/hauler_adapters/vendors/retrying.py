"""Retry policy for vendor calls: exponential backoff with jitter, honouring Retry-After."""
from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from .base import VendorUnavailable


def vendor_transport() -> httpx.AsyncBaseTransport:
    """httpx's interface on aiohttp's connection pool. httpcore's pool looks at every connection
    for every request: with dozens of calls in flight to one hauler it took 73% of the adapters'
    CPU in ``make bench``; on aiohttp's pool the same run dispatched 1.5-2x as many bookings a
    second. Connection problems still surface as ``httpx.TransportError``."""
    return AiohttpTransport(limits=httpx.Limits(max_connections=100, max_keepalive_connections=100))


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a vendor asked us to wait (``Retry-After``), when it said."""
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


class wait_retry_after_or_backoff:
    """Wait what the vendor asked for (Retry-After), or exponential backoff with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.backoff = wait_exponential_jitter(multiplier=initial, jitter=initial, max=maximum)
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.maximum)
        return self.backoff(state)


def vendor_retrying(*, attempts: int, initial: float, maximum: float) -> AsyncRetrying:
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_retry_after_or_backoff(initial, maximum),
        retry=retry_if_exception_type(VendorUnavailable),
        reraise=True,
    )
