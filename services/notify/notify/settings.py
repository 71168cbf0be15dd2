from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from haulbridge_runtime.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore")

    service_name: str = "notify"
    db_schema: str = "notify"
    http_port: int = 8003

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "Haulbridge Junk Pickup <no-reply@haulbridge.example>"
    # Bounces and delivery reports come back to bounces+<message id>@bounce_domain, whose MX is
    # notify's own SMTP endpoint on this port (0: not listening).
    bounce_domain: str = "bounces.haulbridge.example"
    bounce_smtp_host: str = "127.0.0.1"
    bounce_smtp_port: int = Field(default=2526, ge=0)

    # SMS providers: a provider is used when its base URL is set and its weight is above zero; traffic
    # is shared by weight, shifted away from a provider whose recent sends fail (notify.sms_routing).
    pelican_base_url: str | None = None
    pelican_account_sid: str = ""
    pelican_auth_token: SecretStr = SecretStr("")
    pelican_from: str = ""
    pelican_weight: float = Field(default=3.0, ge=0)
    kestrel_base_url: str | None = None
    kestrel_api_key: SecretStr = SecretStr("")
    kestrel_webhook_secret: SecretStr = SecretStr("whsec_")
    kestrel_from: str = ""
    kestrel_weight: float = Field(default=1.0, ge=0)
    sms_timeout_seconds: float = 10.0
    # How far back a provider's sends count towards its health, and the least share a failing
    # provider keeps (its sends show when it has recovered).
    sms_health_window_seconds: float = 60.0
    sms_min_share: float = Field(default=0.05, gt=0, le=1)
    # A rendered text longer than this many segments is still sent, and warned about (log + metric).
    sms_max_segments: int = Field(default=4, ge=1)
    # No SMS between these hours, city time: held until the end, except changes to a pickup due
    # before then, and replies to a resident's own text.
    sms_quiet_from_hour: int = Field(default=21, ge=0, le=23)
    sms_quiet_until_hour: int = Field(default=8, ge=0, le=23)

    # One-click unsubscribe links (List-Unsubscribe, RFC 8058) point here and are signed with the secret.
    public_base_url: str = "http://127.0.0.1:8003"
    unsubscribe_secret: SecretStr = SecretStr("dev-only-unsubscribe-secret-change-me")

    # NOTIFY_OPERATOR_TOKEN (ServiceSettings.operator_token) guards /admin/v1: template previews, dead letters.

    # Contact details are blanked this many days after the booking closes.
    contact_retention_days: int = Field(default=90, ge=0)

    # The reminder goes out the day before the pickup at this hour, city time.
    timezone: str = "America/Los_Angeles"
    reminder_hour_day_before: int = Field(default=17, ge=0, le=23)

    # Sender: temporary failures retried with backoff up to this many attempts.
    send_max_attempts: int = 5
    send_retry_initial_seconds: float = 2.0
    send_poll_seconds: float = 5.0
    # A message left in "sending" this long (a crash mid-send) is never re-sent
    # blindly: it is marked "unknown" for an operator to check with the provider.
    sending_timeout_seconds: int = 300
    # How often the sweeper looks for stuck messages and contacts due to be forgotten.
    sweep_seconds: float = Field(default=30.0, gt=0)
    # A message whose booking never became known here (no booking.requested) fails after this long.
    orphan_after_hours: int = Field(default=24, ge=1)
