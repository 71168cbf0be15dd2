from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from haulbridge_runtime.settings import ServiceSettings


class BookingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore")

    service_name: str = "booking"
    db_schema: str = "booking"
    http_port: int = 8001

    # The city's rules. Configuration, not code.
    timezone: str = "America/Los_Angeles"
    max_items_per_booking: int = 12
    min_lead_days: int = 1
    horizon_days: int = 60
    # Where the resident's messages send them to manage a booking.
    public_base_url: str = "http://127.0.0.1:8001"


def get_settings() -> BookingSettings:
    return BookingSettings()
