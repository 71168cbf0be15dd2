from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from haulbridge_runtime.settings import ServiceSettings


class AdapterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADAPTERS_", extra="ignore")

    service_name: str = "hauler-adapters"
    db_schema: str = "hauler_adapters"
    http_port: int = 8002

    # Calls to a hauler: per-attempt timeout, attempts and backoff before dispatch.failed.
    vendor_timeout_seconds: float = 10.0
    vendor_max_attempts: int = 5
    vendor_retry_initial_seconds: float = 0.5
    vendor_retry_max_seconds: float = 30.0
    # Per hauler: calls at a time, and the circuit breaker (failed calls in a row, then how long it stays open).
    vendor_concurrency: int = Field(default=50, ge=1)
    circuit_threshold: int = Field(default=5, ge=1)
    circuit_open_seconds: float = Field(default=30.0, gt=0)
    # Calls to haulers about one booking are kept this long (the bookings' timelines; vendor_calls.py).
    vendor_calls_retention_days: int = Field(default=90, ge=1)
    # booking.requested events of different bookings handled at once (each booking's in order).
    dispatch_concurrency: int = Field(default=200, ge=1)
    # Dispatch offices that answer by email reply to an address whose MX is this endpoint (0: off).
    reply_smtp_host: str = "127.0.0.1"
    reply_smtp_port: int = Field(default=2527, ge=0)
    # Reconciliation: how often each hauler is compared with what the city believes, and when a
    # job with no completion counts as overdue (hours after the end of its pickup day, city time).
    reconcile_seconds: float = Field(default=3600.0, gt=0)
    overdue_after_hours: float = Field(default=12.0, ge=0)
    timezone: str = "America/Los_Angeles"
    # Haulers that work from daily files: the manifest goes at this hour city time (or every
    # manifest_every_seconds when set, as in the demo); completion files are looked for this often.
    manifest_hour: int = Field(default=20, ge=0, le=23)
    manifest_every_seconds: float | None = None
    batch_poll_seconds: float = Field(default=60.0, gt=0)
    # Vendors without webhooks are asked about their open jobs this often, this many calls at a time.
    poll_seconds: float = 30.0
    poll_concurrency: int = 10
    # Integrations loaded at start (a JSON list); credentials in it are names of environment variables.
    integrations_file: Path | None = None

    @field_validator("integrations_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value  # ADAPTERS_INTEGRATIONS_FILE=
