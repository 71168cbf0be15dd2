"""Vendors with a JSON REST API and webhooks (e.g. the demo's Valley Haul Co.).

POST {base}/api/v1/jobs with an ``Idempotency-Key``: the same key always
answers with the same job, so a retry or a replay after a crash never creates a
second job at the hauler. Authenticated with OAuth2 client credentials when the
integration's config has ``oauth2`` ({"token_url", "client_id", "scope"}; tokens
cached and refreshed, see :mod:`.http`), else a static Bearer key. Cancel and
move go to ``/api/v1/jobs/{id}/cancel`` and ``PATCH /api/v1/jobs/{id}``.
Status comes back by signed webhook (see ``webhooks.py``).
"""
from __future__ import annotations

import os

import httpx

from .base import DispatchReceipt, Integration, PickupJob, VendorRejected, VendorReport, VendorUnavailable
from . import http
from .retrying import retry_after, vendor_retrying


class JsonApiAdapter:
    kind = "json_api"

    def __init__(self, integration: Integration, *, timeout: float, attempts: int, retry_initial: float,
                 retry_max: float) -> None:
        self.integration = integration
        # The key is a static API key, or with config.oauth2 the OAuth2 client secret.
        self.client = http.client(base_url=integration.base_url or "", timeout=timeout,
                                  secret=os.environ.get(integration.api_key_env or "", ""),
                                  oauth2=integration.config.get("oauth2"))
        self.attempts = attempts
        self.retry_initial = retry_initial
        self.retry_max = retry_max

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        body = {
            "customer_reference": job.booking_id,
            "city_reference": job.reference,
            "service_date": job.pickup_date,
            "address": job.address,
            "items": [{"name": i["label"], "code": i["item"], "quantity": i["quantity"]} for i in job.items],
            "contact": {"name": job.contact_name, "phone": job.contact_phone},
            "notes": job.notes,
        }
        async for attempt in vendor_retrying(attempts=self.attempts, initial=self.retry_initial,
                                             maximum=self.retry_max):
            with attempt:
                data = await self._post_job(body, job.idempotency_key)
        return DispatchReceipt(external_ref=data["job_id"], status=data.get("status", "accepted"), raw=data)

    async def _post_job(self, body: dict, key: str) -> dict:
        response = await http.call(self.client, "POST", "/api/v1/jobs", json=body, headers={"Idempotency-Key": key})
        if response.status_code == 429 or response.status_code >= 500:
            raise VendorUnavailable(f"HTTP {response.status_code}", retry_after=retry_after(response))
        if response.status_code >= 400:
            raise VendorRejected(_reason(response), status=response.status_code)
        try:
            data = response.json()
            data["job_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise VendorUnavailable(f"malformed answer: {response.text[:200]!r}") from exc
        return data

    async def cancel(self, external_ref: str, reason: str) -> None:
        await self._change("POST", f"/api/v1/jobs/{external_ref}/cancel", {"reason": reason})

    async def reschedule(self, external_ref: str, pickup_date: str) -> None:
        await self._change("PATCH", f"/api/v1/jobs/{external_ref}", {"service_date": pickup_date})

    async def _change(self, method: str, path: str, body: dict) -> None:
        async for attempt in vendor_retrying(attempts=self.attempts, initial=self.retry_initial,
                                             maximum=self.retry_max):
            with attempt:
                response = await http.call(self.client, method, path, json=body)
                if response.status_code == 429 or response.status_code >= 500:
                    raise VendorUnavailable(f"HTTP {response.status_code}", retry_after=retry_after(response))
                if response.status_code >= 400:
                    raise VendorRejected(_reason(response), status=response.status_code)

    async def list_jobs(self) -> list[VendorReport]:
        """The hauler's own job list, in the city's words (reconciliation)."""
        async for attempt in vendor_retrying(attempts=self.attempts, initial=self.retry_initial,
                                             maximum=self.retry_max):
            with attempt:
                response = await http.call(self.client, "GET", "/api/v1/jobs")
                if response.status_code >= 400:
                    raise VendorUnavailable(f"HTTP {response.status_code} listing jobs")
        return [VendorReport(external_ref=j["job_id"], status=j.get("status", "accepted"),
                             pickup_date=j.get("service_date")) for j in response.json()]

    async def close(self) -> None:
        await self.client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
        return str(data.get("detail") or data.get("error") or data)
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
