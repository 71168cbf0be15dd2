"""Settings shared by every service, read from the environment only.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``BOOKING_``, ``ADAPTERS_``, ``NOTIFY_``), so one machine can run all of them
with different databases and ports.
"""
from __future__ import annotations

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def blank_is_none(value):
    """For optional settings (secrets, paths): an empty or blank variable means unset."""
    return None if isinstance(value, str) and not value.strip() else value


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "haulbridge"
    # The service's own DSN. Its role owns exactly one schema (``db_schema``).
    database_url: str = "postgresql://postgres@127.0.0.1:5432/haulbridge"
    db_schema: str = "public"
    db_pool_min: int = 1
    db_pool_max: int = 10

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Lets several test runs share one broker; empty in production.
    topic_prefix: str = ""
    topic_partitions: int = 3
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 1000

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Bearer token for the service's operator endpoints (/admin/v1/dead-letters, notify's template
    # previews). Unset or empty: those endpoints refuse everyone.
    operator_token: SecretStr | None = None

    @field_validator("operator_token", mode="before")
    @classmethod
    def _empty_means_none(cls, value):
        return blank_is_none(value)

    log_level: str = "INFO"
    log_json: bool = True

    # Consumer loop: attempts per event before it is parked in <topic>.dlq.
    consumer_max_attempts: int = 5
    consumer_retry_initial_seconds: float = 0.2
    consumer_retry_max_seconds: float = 5.0

    # Outbox relay: woken by LISTEN/NOTIFY; this poll is only the fallback.
    outbox_poll_seconds: float = 5.0
    outbox_batch_size: int = 500
    # Published rows are kept this long so operations can re-publish after a disaster.
    outbox_retention_hours: int = 24 * 7
