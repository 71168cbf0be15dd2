"""The ops service's settings, from ``OPS_*`` environment variables (docs/configuration.md)."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from haulbridge_runtime.settings import ServiceSettings, blank_is_none


class OpsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPS_", extra="ignore")

    service_name: str = "ops"
    db_schema: str = "ops"
    http_port: int = 8004

    # The services ops watches and repairs through: their base URLs and operator tokens
    # (each service's {PREFIX}OPERATOR_TOKEN). Ops never writes another service's data.
    booking_url: str = "http://127.0.0.1:8001"
    adapters_url: str = "http://127.0.0.1:8002"
    notify_url: str = "http://127.0.0.1:8003"
    booking_operator_token: SecretStr | None = None
    adapters_operator_token: SecretStr | None = None
    notify_operator_token: SecretStr | None = None
    # How often the services' /metrics are read for live health (consumer lag, outbox backlog,
    # circuits, vendor calls).
    scrape_seconds: float = Field(default=5.0, gt=0)
    # How often the overview pushes fresh figures to open consoles (server-sent events).
    live_seconds: float = Field(default=5.0, gt=0)

    # Staff sessions: signed cookies (this secret) that last this long; unset, a random one per
    # process (every restart logs staff out, and replicas would not share sessions).
    session_secret: SecretStr | None = None
    session_hours: float = Field(default=10.0, gt=0)
    # Cookies only over HTTPS (set in production; the dev stack serves plain HTTP on loopback).
    secure_cookies: bool = False
    # Phone numbers are kept only as a keyed hash, so staff can search by one without ops holding
    # residents' numbers; unset, the session secret is the key.
    contact_hash_key: SecretStr | None = None

    timezone: str = "America/Los_Angeles"  # the city's: a month and "today" are the city's
    # The city's promises and what a booking costs (docs/operations.md, "KPIs").
    on_time_goal: float = Field(default=0.8, ge=0, le=1)
    cost_inputs_file: Path | None = None
    # Where a trace id opens in the tracing UI, e.g. http://jaeger:16686/trace/{trace_id}; empty: shown as text.
    trace_url_template: str = ""

    @field_validator("booking_operator_token", "adapters_operator_token", "notify_operator_token",
                     "session_secret", "contact_hash_key", "cost_inputs_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return blank_is_none(value)
