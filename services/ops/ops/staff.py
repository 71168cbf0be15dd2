"""Operations staff: accounts with a role, sessions, and forms protected against CSRF.

- Roles, each including the one before: **viewer** (sees everything), **operator** (also
  replays and discards dead letters), **admin** (also manages staff accounts).
- Passwords are kept as Argon2id hashes (argon2-cffi); repeated failed logins for one account
  are refused for a while (``limits``, per process).
- The session is a signed, HTTP-only, SameSite=Lax cookie (Starlette's SessionMiddleware)
  holding the username and a CSRF token; every form and htmx request sends the token back
  and a POST without the right one is refused (403), so another site cannot act for a
  logged-in operator. The role is read from the database on every request, so a changed
  role or a disabled account takes effect at once.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from haulbridge_runtime.problems import Problem

from . import repository

ROLES = ("viewer", "operator", "admin")
_hasher = PasswordHasher()
FAILED_LOGINS = RateLimitItemPerMinute(10)  # per account: ten wrong passwords a minute, then wait


class LoginRequired(Exception):
    """No session: the console sends the browser to the login page."""


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"


@dataclass(frozen=True)
class StaffMember:
    username: str
    display_name: str
    role: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def login_limiter() -> MovingWindowRateLimiter:
    """Failed logins per account, in this process."""
    return MovingWindowRateLimiter(MemoryStorage())


async def check_login(pool, limiter: MovingWindowRateLimiter, username: str, password: str) -> StaffMember | None:
    """The staff member, when the password is right and the account active; records the attempt."""
    username = username.strip().lower()
    if not await limiter.test(FAILED_LOGINS, username):
        async with pool.acquire() as conn:
            await repository.record_action(conn, username=username, action="login", outcome="throttled")
        return None
    async with pool.acquire() as conn:
        row = await repository.staff_member(conn, username)
        ok = False
        if row is not None and row["active"]:
            try:
                ok = _hasher.verify(row["password_hash"], password)
            except (VerificationError, InvalidHashError):
                ok = False
        if not ok:
            await limiter.hit(FAILED_LOGINS, username)
            await repository.record_action(conn, username=username, action="login", outcome="refused")
            return None
        rehash = hash_password(password) if _hasher.check_needs_rehash(row["password_hash"]) else None
        await repository.logged_in(conn, username, password_hash=rehash)
        await repository.record_action(conn, username=username, action="login", outcome="ok")
    return StaffMember(row["username"], row["display_name"], row["role"])


async def create(pool, *, username: str, display_name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise ValueError("a password needs at least 12 characters")
    async with pool.acquire() as conn:
        await repository.put_staff(conn, username=username.strip().lower(), display_name=display_name, role=role,
                                   password_hash=hash_password(password))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """For every POST: the session's token, from the form field or the X-CSRF-Token header."""
    expected = request.session.get("csrf")
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        given = form.get("csrf_token")
    if not expected or not given or not secrets.compare_digest(str(given), expected):
        raise Forbidden("This form has expired or did not come from the console; reload the page and try again.")


async def current(request: Request) -> StaffMember:
    username = request.session.get("username")
    if not username:
        raise LoginRequired()
    async with request.app.state.runtime.pool.acquire() as conn:
        row = await repository.staff_member(conn, username)
    if row is None or not row["active"]:
        request.session.clear()
        raise LoginRequired()
    return StaffMember(row["username"], row["display_name"], row["role"])


def require(role: str):
    async def dependency(request: Request) -> StaffMember:
        member = await current(request)
        if not member.can(role):
            raise Forbidden(f"This needs the {role} role; you are signed in as {member.role}.")
        return member
    return dependency


viewer = require("viewer")
operator = require("operator")
admin = require("admin")
