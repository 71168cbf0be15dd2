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
    # Lead time: book at least this many business days ahead; after the cut-off hour
    # (city time) today no longer counts.
    min_lead_days: int = 1
    lead_cutoff_hour: int = 17
    horizon_days: int = 60
    # Pickups per zone per day when the hauler's calendar says nothing more specific.
    default_daily_pickups: int = 20
    hold_minutes: int = 10
    # Where the resident's messages send them to manage a booking.
    public_base_url: str = "http://127.0.0.1:8001"
    # Signs manage links. The default is for development only; set a long random secret in production.
    manage_token_secret: str = "development-only-manage-token-secret"
    # Which address points may book (the city's eligibility rule).
    eligible_land_uses: list[str] = ["single_family", "multi_family"]
    # Free pickups per household per calendar year; none = not limited (the city's current rule).
    household_quota_per_year: int | None = None
    # Residents may cancel or reschedule until this hour (city time) of the day before the pickup.
    change_cutoff_hour_day_before: int = 17
    # A missed pickup can be reported until this hour of the next business day.
    missed_report_cutoff_hour: int = 18

    # Resident API rate limits: clients without a front-end key, per address; keyed clients use
    # their own limit. Use a shared storage (e.g. async+redis://) when running several replicas.
    rate_limit_anonymous: str = "600/minute"
    rate_limit_storage_uri: str = "async+memory://"
    # Photos of the items, attached at booking.
    photo_max_bytes: int = 5 * 1024 * 1024
    photos_per_booking: int = 4


def get_settings() -> BookingSettings:
    return BookingSettings()
