"""RFC 9457 problem details, mapped once for every service.

Domain errors are values with names: subclass :class:`Problem`, set ``status``,
``slug`` and ``title``, raise it from a service function, and the handler turns
it into ``application/problem+json``. Validation errors name each bad field.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", path=request.url.path)
        p = Problem("Something went wrong on our side. The request was not applied; please try again.")
        p.status, p.slug, p.title = 500, "internal-error", "Internal error"
        return problem_response(p, request)


# Shared OpenAPI description of a problem response, for ``responses=`` on routes.
PROBLEM_SCHEMA = {
    "content": {
        PROBLEM_JSON: {
            "schema": {
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
            }
        }
    }
}


def problem_responses(*statuses: int) -> dict[int, dict]:
    return {s: {"description": "Problem details (RFC 9457)", **PROBLEM_SCHEMA} for s in statuses}
