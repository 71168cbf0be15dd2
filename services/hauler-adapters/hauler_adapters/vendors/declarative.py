"""A JSON-over-HTTP vendor integrated by configuration alone (kind ``declarative_json``).

The integration's ``config`` says how to talk to the vendor; no code is written per vendor:

    {"auth": {"kind": "oauth2_client_credentials", "token_url": "/oauth/token", "client_id": "haulbridge",
              "scope": "pickups"},                     # or {"kind": "bearer"} / {"kind": "header", "name": "X-Api-Key"}
     "create": {"method": "POST", "path": "/v2/pickups", "idempotency_header": "X-Request-Id",
                "body": "{order: {ref: reference, day: pickup_date, lines: items[].{sku: item, qty: quantity}}}",
                "external_ref": "data.pickup.id"},
     "status": {"path": "/v2/pickups/{external_ref}", "status": "data.pickup.state",
                "pickup_date": "data.pickup.slot.day", "window_from": "data.pickup.slot.start",
                "window_to": "data.pickup.slot.end", "reason": "data.pickup.note"},
     "status_words": {"BOOKED": "accepted", "SCHEDULED": "confirmed", "DONE": "completed", "NO_ACCESS": "missed"},
     "rejected_http_statuses": [400, 409, 422], "error_message": "error.message"}

Every mapping is a JMESPath expression: ``create.body`` over the city's job (booking_id,
reference, pickup_date, address.text/latitude/longitude, items[].item/label/quantity,
contact_name, contact_phone, notes, idempotency_key), the others over the vendor's answers. The
secret (the API key or the OAuth2 client secret) comes from the environment variable named by
the integration's ``api_key_env``. Status is polled (``status`` endpoint); the vendor's status
words map to the city's (see :data:`JOB_STATUSES`), and an unknown word is an error, not a guess.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Literal

import httpx
import jmespath
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .base import (JOB_STATUSES, DispatchReceipt, Integration, InvalidIntegration, PickupJob, VendorRejected,
                   VendorReport, VendorUnavailable)
from . import http
from .retrying import retry_after, vendor_retrying


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(expression: str | None) -> str | None:
    if expression is not None:
        jmespath.compile(expression)  # a typo is refused when the integration is configured
    return expression


class Auth(_Strict):
    kind: Literal["bearer", "header", "oauth2_client_credentials"]
    name: str = "Authorization"  # the header, for kind "header"
    token_url: str | None = None
    client_id: str | None = None
    scope: str | None = None
    leeway_seconds: float = 30.0  # a token this close to expiry is replaced before use


class Create(_Strict):
    method: Literal["POST", "PUT"] = "POST"
    path: str
    body: str
    external_ref: str
    idempotency_header: str | None = None

    _check = field_validator("body", "external_ref")(_compiles)


class Status(_Strict):
    path: str  # with {external_ref}
    status: str
    pickup_date: str | None = None
    window_from: str | None = None
    window_to: str | None = None
    reason: str | None = None

    _check = field_validator("status", "pickup_date", "window_from", "window_to", "reason")(_compiles)


class DeclarativeConfig(_Strict):
    auth: Auth
    create: Create
    status: Status
    status_words: dict[str, Literal[JOB_STATUSES]]  # type: ignore[valid-type]
    rejected_http_statuses: list[int] = [400, 404, 409, 422]
    error_message: str | None = None

    _check = field_validator("error_message")(_compiles)


def parse_config(config: dict) -> DeclarativeConfig:
    try:
        return DeclarativeConfig.model_validate(config)
    except (ValidationError, jmespath.exceptions.JMESPathError) as exc:
        raise InvalidIntegration(f"declarative_json config not valid: {exc}") from exc


class DeclarativeJsonAdapter:
    kind = "declarative_json"

    def __init__(self, integration: Integration, *, timeout: float, attempts: int, retry_initial: float,
                 retry_max: float) -> None:
        self.integration = integration
        self.config = parse_config(integration.config)
        self.retrying = dict(attempts=attempts, initial=retry_initial, maximum=retry_max)
        auth = self.config.auth
        oauth2 = {"token_url": auth.token_url or "", "client_id": auth.client_id, "scope": auth.scope,
                  "leeway_seconds": auth.leeway_seconds} if auth.kind == "oauth2_client_credentials" else None
        self.client = http.client(base_url=integration.base_url or "", timeout=timeout,
                                  secret=os.environ.get(integration.api_key_env or "", ""), oauth2=oauth2,
                                  header=auth.name, bearer=auth.kind == "bearer")

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        create = self.config.create
        body = jmespath.search(create.body, dataclasses.asdict(job))
        headers = {create.idempotency_header: job.idempotency_key} if create.idempotency_header else {}
        async for attempt in vendor_retrying(**self.retrying):
            with attempt:
                answer = await self._call(create.method, create.path, json=body, headers=headers)
        external_ref = jmespath.search(create.external_ref, answer)
        if not external_ref:
            raise VendorUnavailable(f"the vendor's answer has no job id at '{create.external_ref}': {answer!r:.200}")
        return DispatchReceipt(external_ref=str(external_ref), status="accepted", raw=answer)

    async def fetch_status(self, external_ref: str) -> VendorReport:
        status = self.config.status
        async for attempt in vendor_retrying(**self.retrying):
            with attempt:
                answer = await self._call("GET", status.path.format(external_ref=external_ref))
        word = jmespath.search(status.status, answer)
        if word not in self.config.status_words:
            raise VendorUnavailable(f"unknown status word {word!r} (configured: {sorted(self.config.status_words)})")

        def field(expression: str | None) -> str | None:
            value = jmespath.search(expression, answer) if expression else None
            return str(value) if value is not None else None

        start, end = field(status.window_from), field(status.window_to)
        return VendorReport(external_ref=external_ref, status=self.config.status_words[word],
                            pickup_date=field(status.pickup_date), reason=field(status.reason),
                            window={"from": start, "to": end} if start and end else None)

    async def _call(self, method: str, path: str, **kwargs) -> dict:
        response = await http.call(self.client, method, path, **kwargs)
        if response.status_code in self.config.rejected_http_statuses:
            raise VendorRejected(self._reason(response), status=response.status_code)
        if response.status_code == 429 or response.status_code >= 400:
            raise VendorUnavailable(f"HTTP {response.status_code}: {self._reason(response)}",
                                    retry_after=retry_after(response))
        try:
            return response.json()
        except ValueError as exc:
            raise VendorUnavailable(f"malformed answer: {response.text[:200]!r}") from exc

    def _reason(self, response: httpx.Response) -> str:
        try:
            found = jmespath.search(self.config.error_message, response.json()) if self.config.error_message else None
        except ValueError:
            found = None
        return str(found) if found else f"HTTP {response.status_code}: {response.text[:200]}"

    async def close(self) -> None:
        await self.client.aclose()
