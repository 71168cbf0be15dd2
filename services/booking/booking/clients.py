"""API clients and their keys: front ends (identified, rate limited per client) and staff (role-scoped).

Front-end keys go in ``X-Api-Key`` on the resident API; staff keys in
``Authorization: Bearer`` on ``/admin/v1``. A key of one kind is refused where
the other is expected. Keys are random, shown once, and stored as SHA-256.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg
from fastapi import Request
from limits import RateLimitItemPerMinute, parse
from limits.storage import storage_from_string
from limits.aio.strategies import MovingWindowRateLimiter

from haulbridge_runtime.problems import Problem, Unauthorized

STAFF_ROLES = ("viewer", "agent", "operator", "admin")  # each includes the rights of those before it


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class RateLimited(Problem):
    status, slug, title = 429, "rate-limited", "Too many requests"


@dataclass(frozen=True)
class Client:
    id: uuid.UUID | None
    name: str
    kind: str
    role: str
    rate_limit_per_minute: int | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create(conn: asyncpg.Connection, *, name: str, kind: str, role: str,
                 rate_limit_per_minute: int | None = None) -> tuple[Client, str]:
    if kind == "staff" and role not in STAFF_ROLES:
        raise ValueError(f"staff role must be one of {STAFF_ROLES}")
    if kind == "frontend":
        role = "client"
    key = f"hb_{kind[:5]}_{secrets.token_urlsafe(32)}"
    client_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO api_clients (id, name, kind, role, key_hash, rate_limit_per_minute) VALUES ($1,$2,$3,$4,$5,$6)",
        client_id, name, kind, role, _hash(key), rate_limit_per_minute,
    )
    return Client(client_id, name, kind, role, rate_limit_per_minute), key


async def find(conn: asyncpg.Connection, key: str) -> Client | None:
    row = await conn.fetchrow(
        "SELECT id, name, kind, role, rate_limit_per_minute FROM api_clients"
        " WHERE key_hash = $1 AND revoked_at IS NULL", _hash(key))
    return Client(**dict(row)) if row else None


async def revoke(conn: asyncpg.Connection, name: str) -> bool:
    return (await conn.execute("UPDATE api_clients SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
                               name)).endswith(" 1")


async def list_all(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch("SELECT id, name, kind, role, rate_limit_per_minute, created_at, revoked_at"
                            " FROM api_clients ORDER BY created_at")
    return [dict(r) for r in rows]


def require_role(client: Client, minimum: str) -> None:
    if STAFF_ROLES.index(client.role) < STAFF_ROLES.index(minimum):
        raise Forbidden(f"This needs the {minimum} role; your key has {client.role}.")


async def staff(request: Request) -> Client:
    """The staff member calling ``/admin/v1`` (FastAPI dependency)."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("Staff API calls need 'Authorization: Bearer <staff key>'.")
    async with request.app.state.runtime.pool.acquire() as conn:
        client = await find(conn, key.strip())
    if client is None or client.kind != "staff":
        raise Unauthorized("The key is unknown, revoked, or not a staff key.")
    return client


class ResidentApiLimiter:
    """Per-client rate limit on the resident API: a front end by its key, anyone else by address."""

    def __init__(self, *, storage_uri: str, anonymous_limit: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.anonymous = parse(anonymous_limit)

    async def __call__(self, request: Request) -> Client | None:
        key = request.headers.get("x-api-key")
        client = None
        if key:
            async with request.app.state.runtime.pool.acquire() as conn:
                client = await find(conn, key)
            if client is None or client.kind != "frontend":
                raise Unauthorized("The X-Api-Key is unknown, revoked, or not a front-end key.")
            limit = RateLimitItemPerMinute(client.rate_limit_per_minute) if client.rate_limit_per_minute \
                else self.anonymous
            identity = f"client:{client.id}"
        else:
            limit = self.anonymous
            identity = f"address:{request.client.host if request.client else 'unknown'}"
        if not await self.limiter.hit(limit, identity):
            reset, _remaining = await self.limiter.get_window_stats(limit, identity)
            raise RateLimited(f"More than {limit} requests; slow down.", retry_at=reset)
        request.state.api_client = client
        return client
