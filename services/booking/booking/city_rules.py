"""The city's rules: environment settings, overridden by what staff set through the admin API.

Services read the effective rules once per request (one small row), so a
change made by staff applies to the next request without a restart.
"""
from __future__ import annotations

import asyncpg
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from .settings import BookingSettings


class RuleChanges(BaseModel):
    """The rules staff may change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    max_items_per_booking: int | None = Field(default=None, ge=1, le=100)
    household_quota_per_year: int | None = Field(default=None, ge=0, le=100,
                                                 description="0 clears the quota (not limited)")
    min_lead_days: int | None = Field(default=None, ge=0, le=30)
    lead_cutoff_hour: int | None = Field(default=None, ge=0, le=23)
    horizon_days: int | None = Field(default=None, ge=1, le=365)
    hold_minutes: int | None = Field(default=None, ge=1, le=120)
    eligible_land_uses: list[str] | None = Field(default=None, min_length=1)
    change_cutoff_hour_day_before: int | None = Field(default=None, ge=0, le=23)
    missed_report_cutoff_hour: int | None = Field(default=None, ge=0, le=23)


EDITABLE = tuple(RuleChanges.model_fields)


async def stored(conn: asyncpg.Connection) -> dict:
    return await conn.fetchval("SELECT rules FROM city_rules") or {}


async def effective(conn: asyncpg.Connection, base: BookingSettings) -> BookingSettings:
    overrides = await stored(conn)
    if not overrides:
        return base
    if overrides.get("household_quota_per_year") == 0:
        overrides = {**overrides, "household_quota_per_year": None}
    return base.model_copy(update=overrides)


async def change(conn: asyncpg.Connection, changes: RuleChanges, *, actor: str) -> dict:
    current = await stored(conn)
    updated = {**current, **changes.model_dump(exclude_none=True)}
    await conn.execute(
        "INSERT INTO city_rules (id, rules, updated_by) VALUES (true, $1, $2)"
        " ON CONFLICT (id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now(), updated_by = EXCLUDED.updated_by",
        updated, actor,
    )
    return updated


def as_dict(settings: BookingSettings) -> dict:
    return {name: getattr(settings, name) for name in EDITABLE}


async def for_request(request: Request) -> None:
    """FastAPI dependency: the rules in force for this request, as ``request.state.rules``."""
    async with request.app.state.runtime.pool.acquire() as conn:
        request.state.rules = await effective(conn, request.app.state.settings)
