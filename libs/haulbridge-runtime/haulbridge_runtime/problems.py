"""RFC 9457 problem details, mapped once for every service.

Domain errors are values with names: subclass :class:`Problem`, set ``status``,
``slug`` and ``title``, raise it from a service function, and the handler turns
it into ``application/problem+json``. Validation errors name each bad field.
"""
from __future__ import annotations

import re
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
# asyncpg's own refusal of an argument it cannot encode (e.g. an integer beyond int64), raised before
# anything reaches PostgreSQL; not the same class as asyncpg.DataError (SQLSTATE class 22).
_ARGUMENT_REFUSED = asyncpg.exceptions._base.DataError


class Problem(Exception):
    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Not authenticated"


def problem_response(problem: Problem, request: Request | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(str(request.url.path) if request else None),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _domain(request: Request, exc: Problem):
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            p = Problem("The request body is not valid JSON.", errors=[
                {"field": "body", "message": e.get("ctx", {}).get("error", e.get("msg"))} for e in errors
            ])
            p.slug, p.title, p.status = "malformed-json", "Malformed JSON", 400
            return problem_response(p, request)
        p = Problem(
            "Some fields are missing or invalid.",
            errors=[{"field": _field(e["loc"]), "message": e["msg"]} for e in errors],
        )
        p.slug, p.title, p.status = "invalid-request", "Invalid request", 422
        return problem_response(p, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        p = Problem(str(exc.detail))
        p.status = exc.status_code
        p.slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(exc.status_code, "http-error")
        p.title = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated"}.get(
            exc.status_code, "HTTP error"
        )
        return problem_response(p, request, headers=getattr(exc, "headers", None))

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(_ARGUMENT_REFUSED)
    async def _database(request: Request, exc: Exception):
        problem = from_database_error(exc)
        if problem is None:
            return await _unexpected(request, exc)
        log.info("request refused by the database", path=request.url.path, error=type(exc).__name__)
        return problem_response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", path=request.url.path)
        p = Problem("Something went wrong on our side. The request was not applied; please try again.")
        p.status, p.slug, p.title = 500, "internal-error", "Internal error"
        return problem_response(p, request)


_KEY = re.compile(r"Key \((?P<field>[\w, ]+)\)=\(")  # columns only: an index on an expression names no field


def _key_errors(exc: Exception, message: str) -> dict[str, Any]:
    match = _KEY.search(getattr(exc, "detail", None) or "")
    return {"errors": [{"field": match["field"], "message": message}]} if match else {}


def from_database_error(exc: Exception) -> Problem | None:
    """The problem a request caused when PostgreSQL refused what it carried, or None for our own faults.

    The transaction that hit the error is rolled back, so nothing of the request was applied;
    each detail says so. Errors that are not about the request's values (lost connections,
    deadlocks, syntax) return None and stay a 500.
    """
    not_applied = "Nothing was changed."
    problem: Problem
    if isinstance(exc, (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)):
        problem = Problem(f"Text may not contain NUL (\\u0000) or characters that are not valid UTF-8. {not_applied}")
        problem.status, problem.slug, problem.title = 422, "invalid-text", "Invalid text"
    elif isinstance(exc, (asyncpg.DataError, _ARGUMENT_REFUSED)):
        problem = Problem(f"A value is out of range or not in the expected form. {not_applied}")
        problem.status, problem.slug, problem.title = 422, "value-out-of-range", "Value out of range"
    elif isinstance(exc, asyncpg.ForeignKeyViolationError):
        if "still referenced" in (exc.detail or ""):
            problem = Conflict(f"Other records still refer to this one, so it cannot be removed. {not_applied}")
            problem.slug, problem.title = "still-in-use", "Still in use"
        else:
            problem = Problem(f"The request refers to something that does not exist. {not_applied}",
                              **_key_errors(exc, "no such record"))
            problem.status, problem.slug, problem.title = 422, "unknown-reference", "Unknown reference"
    elif isinstance(exc, asyncpg.UniqueViolationError):
        problem = Conflict(f"A record with the same identifying value already exists. {not_applied}",
                           **_key_errors(exc, "already taken"))
        problem.slug, problem.title = "already-exists", "Already exists"
    elif isinstance(exc, (asyncpg.CheckViolationError, asyncpg.NotNullViolationError)):
        problem = Problem(f"A value breaks one of the city's data rules. {not_applied}")
        problem.status, problem.slug, problem.title = 422, "invalid-value", "Invalid value"
    else:
        return None
    return problem


PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_PROBLEM_REF = "#/components/schemas/ValidationProblem"

# Shared OpenAPI description of a problem response, for ``responses=`` on routes.
PROBLEM_SCHEMA = {"content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}}

OPENAPI_SCHEMAS = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details.",
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
        },
        "additionalProperties": True,
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "description": "RFC 9457 problem details naming each missing or invalid field.",
        "allOf": [
            {"$ref": PROBLEM_REF},
            {"type": "object", "properties": {"errors": {"type": "array", "items": {
                "type": "object", "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}},
        ],
    },
}


def problem_responses(*statuses: int) -> dict[int, dict]:
    return {s: {"description": "Problem details (RFC 9457)", **PROBLEM_SCHEMA} for s in statuses}


def document_problems(document: dict) -> dict:
    """Make an OpenAPI document say what the handlers above really answer.

    FastAPI documents its own ``HTTPValidationError`` for 422; Haulbridge answers problem details
    instead. Every operation that reads a body can also answer 400 (malformed JSON, unreadable
    form data); that is documented too. Mutates and returns ``document``.
    """
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(OPENAPI_SCHEMAS)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                content = responses["422"].setdefault("content", {})
                schema = content.get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").endswith("/HTTPValidationError"):
                    del content["application/json"]
                    responses["422"]["description"] = "Invalid request: problem details naming each field"
                content[PROBLEM_JSON] = {"schema": {"$ref": VALIDATION_PROBLEM_REF}}
            if "requestBody" in operation:
                bad = responses.setdefault("400", {"description": "Malformed request: problem details"})
                bad.setdefault("content", {})[PROBLEM_JSON] = {"schema": {"$ref": PROBLEM_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
