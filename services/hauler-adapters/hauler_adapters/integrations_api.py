"""Hauler integrations as data, managed by operators (``Authorization: Bearer <ADAPTERS_OPERATOR_TOKEN>``).

    GET /admin/v1/integrations                 every hauler's integration
    GET /admin/v1/integrations/{hauler_id}     one
    PUT /admin/v1/integrations/{hauler_id}     create or change one; checked before it is stored

Credentials are never stored or shown: an integration names the environment variables (or
mounted secrets) that hold them (``api_key_env``, ``webhook_secret_env``). A change is refused
with a 422 problem saying why when the kind has no adapter or its configuration cannot work
(e.g. a declarative mapping with a typo), and takes effect for the next call to that hauler.
"""
from __future__ import annotations

import dataclasses
import re

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from haulbridge_runtime.logs import get_logger
from haulbridge_runtime.operators import require_operator
from haulbridge_runtime.problems import NotFound, Problem, problem_responses

from . import repository
from .vendors.base import Integration
from .vendors.registry import ADAPTER_KINDS, UnsupportedVendorKind

log = get_logger(__name__)

router = APIRouter(prefix="/admin/v1/integrations", tags=["integrations"], dependencies=[Depends(require_operator)],
                   responses=problem_responses(401))

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class IntegrationNotValid(Problem):
    status, slug, title = 422, "integration-not-valid", "Integration not valid"


class IntegrationIn(BaseModel):
    kind: str = Field(description=f"One of: {', '.join(sorted(ADAPTER_KINDS))}")
    base_url: str | None = Field(default=None, max_length=500)
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME, description="Variable holding the key/secret")
    webhook_secret_env: str | None = Field(default=None, pattern=ENV_NAME)
    config: dict = Field(default_factory=dict)


@router.get("", summary="Every hauler's integration")
async def list_integrations(request: Request) -> list[dict]:
    async with request.app.state.runtime.pool.acquire() as conn:
        return [dataclasses.asdict(i) for i in await repository.integrations(conn)]


@router.get("/{hauler_id}", responses=problem_responses(404), summary="One hauler's integration")
async def get_integration(hauler_id: str, request: Request) -> dict:
    async with request.app.state.runtime.pool.acquire() as conn:
        integration = await repository.get_integration(conn, hauler_id)
    if integration is None:
        raise NotFound(f"No integration for hauler '{hauler_id}'.")
    return dataclasses.asdict(integration)


@router.put("/{hauler_id}", responses=problem_responses(422), summary="Create or change a hauler's integration")
async def put_integration(hauler_id: str, body: IntegrationIn, request: Request) -> dict:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", hauler_id):
        raise IntegrationNotValid("hauler_id is lower-case letters, digits and dashes.")
    integration = Integration(hauler_id=hauler_id, **body.model_dump())
    try:
        await request.app.state.registry.check(integration)
    except UnsupportedVendorKind as exc:
        raise IntegrationNotValid(str(exc)) from exc
    async with request.app.state.runtime.pool.acquire() as conn:
        await repository.upsert_integration(conn, dataclasses.asdict(integration))
    log.warning("hauler integration changed", hauler_id=hauler_id, kind=body.kind)
    return dataclasses.asdict(integration)
