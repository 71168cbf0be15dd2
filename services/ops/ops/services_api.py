"""The other services' operator APIs, which ops repairs through: it never writes their data.

Each service keeps its own dead letters (``/admin/v1/dead-letters``), so a replay runs in the
service that failed, through its own inbox; the adapters keep reconciliation and vendor calls.
"""
from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from haulbridge_runtime.problems import Problem

from .settings import OpsSettings


class ServiceUnavailable(Problem):
    status, slug, title = 502, "service-unavailable", "A service did not answer"


class ServiceRefused(Problem):
    status, slug, title = 409, "service-refused", "The service refused"


@dataclass(frozen=True)
class Service:
    name: str  # = its consumer group, which is what a dead letter's dlq-consumer header names
    url: str
    token: SecretStr | None


def services(settings: OpsSettings) -> dict[str, Service]:
    return {s.name: s for s in (
        Service("booking", settings.booking_url, settings.booking_operator_token),
        Service("hauler-adapters", settings.adapters_url, settings.adapters_operator_token),
        Service("notify", settings.notify_url, settings.notify_operator_token),
        # ops' own consumer parks what it cannot project, like every service (OPS_OPERATOR_TOKEN)
        Service("ops", f"http://127.0.0.1:{settings.http_port}", settings.operator_token),
    )}


class ServicesApi:
    def __init__(self, settings: OpsSettings, client: httpx.AsyncClient) -> None:
        self.services = services(settings)
        self.client = client

    async def _call(self, service: str, method: str, path: str, **kwargs) -> httpx.Response:
        target = self.services.get(service)
        if target is None:
            raise ServiceRefused(f"There is no service called {service!r}.")
        headers = {"authorization": f"Bearer {target.token.get_secret_value()}"} if target.token else {}
        try:
            response = await self.client.request(method, target.url + path, headers=headers, timeout=30, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{service} did not answer ({exc!r}); nothing was changed there.") from exc
        if response.status_code in (401, 403):
            raise ServiceUnavailable(f"{service} refused ops' operator token (OPS_*_OPERATOR_TOKEN); nothing changed.")
        return response

    @staticmethod
    def _detail(response: httpx.Response) -> str:
        try:
            return response.json().get("detail") or response.text
        except ValueError:
            return response.text

    # -- dead letters ------------------------------------------------------------------------
    async def dead_letters(self, service: str, *, status: str = "all") -> list[dict]:
        response = await self._call(service, "GET", "/admin/v1/dead-letters", params={"status": status})
        if response.status_code != 200:
            raise ServiceUnavailable(f"{service}: {self._detail(response)}")
        return [{**letter, "service": service} for letter in response.json()]

    async def dead_letter(self, service: str, dlq_topic: str, partition: int, offset: int) -> dict | None:
        response = await self._call(service, "GET", f"/admin/v1/dead-letters/{dlq_topic}/{partition}/{offset}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(f"{service}: {self._detail(response)}")
        return {**response.json(), "service": service}

    async def act_on_dead_letter(self, service: str, dlq_topic: str, partition: int, offset: int, *, action: str,
                                 reason: str, actor: str) -> dict:
        """Replay or discard; a refusal (still failing, already done) is raised with the service's words."""
        response = await self._call(service, "POST", f"/admin/v1/dead-letters/{dlq_topic}/{partition}/{offset}/{action}",
                                    json={"reason": reason, "actor": actor})
        if response.status_code == 200:
            return response.json()
        if response.status_code in (404, 409, 422):
            raise ServiceRefused(f"{service}: {self._detail(response)}")
        raise ServiceUnavailable(f"{service} answered {response.status_code}: {self._detail(response)}")

    # -- the adapters' record of a booking at its hauler ----------------------------------------
    async def dispatch_of(self, booking_id: str) -> dict | None:
        """The dispatch and its vendor calls; None when the adapters do not know the booking (or are down)."""
        try:
            response = await self._call("hauler-adapters", "GET", f"/admin/v1/dispatches/{booking_id}")
        except ServiceUnavailable:
            return None
        return response.json() if response.status_code == 200 else None
