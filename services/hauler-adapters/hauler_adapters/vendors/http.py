"""HTTP to JSON vendors: one client per hauler, with a static key or OAuth2 client credentials.

``client(...)`` builds it on aiohttp's connection pool (:func:`retrying.vendor_transport`).
With OAuth2 (Authlib's ``AsyncOAuth2Client``) a token is fetched on first use, cached, replaced
``leeway`` seconds before it expires, and dropped when the vendor answers 401 so the retry
fetches a new one. ``call`` sends one request and turns what can go wrong before an answer into
:class:`VendorUnavailable`.
"""
from __future__ import annotations

import warnings

import authlib.deprecate  # noqa: F401  (sets its own "always" filter first, so ours below goes in front)
import httpx
from authlib.common.errors import AuthlibBaseError

with warnings.catch_warnings():
    # Authlib 1.9 warns at import that it prefers the httpx2 fork; we stay on httpx (docs/hauler-adapters.md).
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from haulbridge_runtime import tracing

from .base import VendorUnavailable
from .retrying import vendor_transport

USER_AGENT = "haulbridge-hauler-adapters"


def client(*, base_url: str, timeout: float, secret: str, oauth2: dict | None = None,
           header: str = "Authorization", bearer: bool = True) -> httpx.AsyncClient:
    """``oauth2``: {"token_url", "client_id", "scope", "leeway_seconds"}, the secret being the client
    secret; otherwise the secret goes in ``header`` (as a Bearer token when ``bearer``)."""
    headers = {"User-Agent": USER_AGENT}
    if oauth2:
        vendor = AsyncOAuth2Client(
            client_id=oauth2["client_id"], client_secret=secret, scope=oauth2.get("scope"), base_url=base_url,
            timeout=timeout, token_endpoint=str(httpx.URL(base_url).join(oauth2["token_url"])),
            grant_type="client_credentials", leeway=oauth2.get("leeway_seconds", 30), headers=headers,
            transport=vendor_transport())
    else:
        headers[header] = f"Bearer {secret}" if bearer else secret
        vendor = httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers, transport=vendor_transport())
    # CLIENT spans with traceparent sent to the vendor (when tracing is on): the aiohttp pool is not
    # one of httpx's own transports, which the process-wide instrumentation covers.
    tracing.instrument_client(vendor)
    return vendor


async def call(vendor: httpx.AsyncClient, method: str, path: str, **kwargs) -> httpx.Response:
    try:
        if isinstance(vendor, AsyncOAuth2Client) and not vendor.token:
            await vendor.fetch_token()
        response = await vendor.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise VendorUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except (AuthlibBaseError, httpx.HTTPStatusError) as exc:  # the token endpoint refused us
        raise VendorUnavailable(f"OAuth2 token not granted: {exc}") from exc
    if response.status_code == 401 and isinstance(vendor, AsyncOAuth2Client):
        vendor.token = None  # revoked or expired early at the vendor: the retry fetches a new one
    return response
