"""Structured JSON logs with the correlation id on every line.

Every line carries a ``correlation_id``: the booking's while an event of it is handled, the
caller's ``X-Correlation-Id`` (or one made for the request) while an HTTP request is served,
and otherwise the process's own (``process-…``, for start-up, jobs and shutdown).

Contact details never go into log fields: use :func:`mask_email` /
:func:`mask_phone` when a line must refer to a resident. Secrets never go into log fields at all.
tests/test_logs.py runs the platform and scans every service's log for both.
"""
from __future__ import annotations

import logging
import sys
import uuid

import structlog

bind = structlog.contextvars.bind_contextvars
unbind = structlog.contextvars.unbind_contextvars
bound = structlog.contextvars.bound_contextvars


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python's warnings as JSON lines too, not raw text on stderr
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service, correlation_id=f"process-{uuid.uuid4().hex[:12]}")


def get_logger(name: str | None = None):
    return structlog.get_logger(name)


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None if email is None else "***"
    local, domain = email.split("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return f"***{phone[-2:]}"
