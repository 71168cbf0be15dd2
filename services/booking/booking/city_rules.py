"""The city's rules: environment settings, overridden by what staff set through the admin API.

Each booking process keeps the rules in force in memory and drops them whenever
they change: a trigger on ``city_rules`` sends a NOTIFY that every replica
LISTENs for, so a change staff make applies to the next request everywhere,
without a restart and without a query per request. While a replica is not
listening (starting, or its listening connection was lost), it reads the rules
from the database on every request instead, so it never answers from rules it
cannot know are current.
"""
from __future__ import annotations

import asyncio

import asyncpg
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from haulbridge_runtime.db import connect
from haulbridge_runtime.logs import get_logger

from .settings import BookingSettings

log = get_logger(__name__)


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


def channel(schema: str) -> str:
    """The NOTIFY channel of the trigger in migrations/005_city_rules_changed.sql."""
    return f"{schema}_city_rules"


class RulesInForce:
    """The effective rules of one process, cached while it listens for changes."""

    def __init__(self, base: BookingSettings) -> None:
        self.base = base
        self.cached: BookingSettings | None = None
        self.listening = False
        self._generation = 0  # bumped by every change: a read that overlapped one is not kept

    def forget(self, *_notification) -> None:
        self._generation += 1
        self.cached = None

    async def current(self, pool: asyncpg.Pool) -> BookingSettings:
        if self.cached is not None:
            return self.cached
        generation = self._generation
        async with pool.acquire() as conn:
            rules = await effective(conn, self.base)
        if self.listening and generation == self._generation:
            self.cached = rules
        return rules

    async def follow_changes(self, *, check_seconds: float = 30.0) -> None:
        """Runs for the life of the process (a runtime job): LISTEN, and forget the rules on each change."""
        backoff = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self.base.database_url, self.base.db_schema)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn: lost.set())
                await conn.add_listener(channel(self.base.db_schema), self.forget)
                self.forget()  # changes made before we listened are read afresh
                self.listening, backoff = True, 0.5
                while not lost.is_set():
                    try:
                        await asyncio.wait_for(lost.wait(), timeout=check_seconds)
                    except TimeoutError:
                        await conn.fetchval("SELECT 1", timeout=5)  # a silent network loss shows here
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("not listening for rule changes; reading them per request", error=repr(exc))
            finally:
                self.listening = False
                self.forget()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


async def for_request(request: Request) -> None:
    """FastAPI dependency: the rules in force for this request, as ``request.state.rules``."""
    request.state.rules = await request.app.state.city_rules.current(request.app.state.runtime.pool)
