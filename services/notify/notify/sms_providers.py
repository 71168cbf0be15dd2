"""The SMS providers notify can send through, each with its own API.

- **Pelican SMS** (Twilio-style): form-encoded ``POST /2010-04-01/Accounts/{sid}/Messages.json``
  with HTTP Basic auth; a status callback URL per message; callbacks and inbound texts signed
  ``X-Twilio-Signature`` (HMAC-SHA1 over the URL and the sorted form fields). No idempotency.
- **Kestrel Messaging**: JSON ``POST /v2/messages`` with a bearer key and an ``Idempotency-Key``
  (our notification id: a repeat of the same message is not sent twice); status receipts and
  inbound texts as Standard Webhooks (``webhook-id``, ``-timestamp``, ``-signature``).

Every send ends in one of four ways, which is what the sender needs to keep "exactly once":
the provider took it (its message id); it refused it for good (:class:`SmsRefused`: a wrong
number); it certainly did not take it (:class:`SmsNotTaken`: no connection, 5xx, 429, bad
credentials: another provider may try); or nobody knows (:class:`SmsOutcomeUnknown`: the
request went out and no answer came back).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

import httpx
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .settings import NotifySettings


class SmsRefused(Exception):
    """The provider will never send this one (e.g. not a valid number); its reason."""


class SmsNotTaken(Exception):
    """The provider certainly did not take the message; try another or later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class SmsOutcomeUnknown(Exception):
    """The request reached the provider and no answer came: it may or may not send the message."""


class BadSignature(Exception):
    """A callback that does not prove it comes from the provider."""


@dataclass(frozen=True)
class Receipt:
    """What a provider reports about a message after taking it."""
    provider_message_id: str
    notification_id: uuid.UUID | None
    status: str  # "sent" | "delivered" | "undelivered"
    error: str | None = None


@dataclass(frozen=True)
class InboundText:
    """A text a resident sent to the city's number."""
    provider_message_id: str
    phone: str
    body: str


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


async def _post(client: httpx.AsyncClient, url: str, **kwargs) -> httpx.Response:
    try:
        return await client.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise SmsNotTaken(f"could not reach the provider: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:  # sent, then timed out or cut off: it may have been taken
        raise SmsOutcomeUnknown(f"no answer from the provider: {type(exc).__name__}") from exc


def _not_taken_or_refused(response: httpx.Response, reason: str) -> Exception:
    if response.status_code in (400, 404, 422):
        return SmsRefused(reason)
    return SmsNotTaken(f"HTTP {response.status_code}: {reason}", _retry_after(response))


class Pelican:
    name = "pelican"
    idempotent = False

    def __init__(self, settings: NotifySettings) -> None:
        self.base_url = settings.pelican_base_url.rstrip("/")
        self.account_sid = settings.pelican_account_sid
        self.auth_token: SecretStr = settings.pelican_auth_token
        self.from_number = settings.pelican_from
        self.weight = settings.pelican_weight
        self.public_base_url = settings.public_base_url.rstrip("/")

    async def send(self, client: httpx.AsyncClient, *, to: str, text: str, reference: str) -> str:
        response = await _post(
            client, f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json",
            auth=(self.account_sid, self.auth_token.get_secret_value()),
            data={"To": to, "From": self.from_number, "Body": text,
                  "StatusCallback": f"{self.public_base_url}/webhooks/sms/pelican/status?notification={reference}"})
        if response.status_code in (200, 201):
            return response.json()["sid"]
        try:
            error = response.json()
            reason = f"Pelican {error.get('code')}: {error.get('message')}"
        except ValueError:
            reason = response.text[:200]
        raise _not_taken_or_refused(response, reason)

    def verify(self, url: str, body: bytes, headers) -> dict[str, str]:
        """The form fields of a signed callback to ``url`` (as the provider called it)."""
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        payload = url + "".join(k + v for k, v in sorted(params.items()))
        expected = base64.b64encode(hmac.new(self.auth_token.get_secret_value().encode(), payload.encode(),
                                             hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, headers.get("x-twilio-signature", "")):
            raise BadSignature("X-Twilio-Signature does not match")
        return params

    @staticmethod
    def receipt(params: dict[str, str], notification: str | None) -> Receipt:
        status = params.get("MessageStatus", "")
        error = f"Pelican error {params['ErrorCode']}" if params.get("ErrorCode") else None
        return Receipt(provider_message_id=params.get("MessageSid", ""), notification_id=_uuid(notification),
                       status={"delivered": "delivered", "undelivered": "undelivered",
                               "failed": "undelivered"}.get(status, "sent"), error=error)

    @staticmethod
    def inbound(params: dict[str, str]) -> InboundText:
        return InboundText(provider_message_id=params["MessageSid"], phone=params["From"], body=params["Body"])


class Kestrel:
    name = "kestrel"
    idempotent = True

    def __init__(self, settings: NotifySettings) -> None:
        self.base_url = settings.kestrel_base_url.rstrip("/")
        self.api_key: SecretStr = settings.kestrel_api_key
        self.webhooks = Webhook(settings.kestrel_webhook_secret.get_secret_value())
        self.from_number = settings.kestrel_from
        self.weight = settings.kestrel_weight
        self.callback_url = f"{settings.public_base_url.rstrip('/')}/webhooks/sms/kestrel"

    async def send(self, client: httpx.AsyncClient, *, to: str, text: str, reference: str) -> str:
        response = await _post(
            client, f"{self.base_url}/v2/messages",
            headers={"Authorization": f"Bearer {self.api_key.get_secret_value()}", "Idempotency-Key": reference},
            json={"to": to, "from": self.from_number, "text": text, "client_reference": reference,
                  "callback_url": self.callback_url})
        if response.status_code in (200, 201, 202):
            return response.json()["id"]
        try:
            error = response.json()["error"]
            reason = f"Kestrel {error.get('code')}: {error.get('detail')}"
        except (ValueError, KeyError, TypeError):
            reason = response.text[:200]
        raise _not_taken_or_refused(response, reason)

    def verify(self, body: bytes, headers) -> dict:
        try:
            return self.webhooks.verify(body, dict(headers))
        except WebhookVerificationError as exc:
            raise BadSignature(str(exc)) from exc

    @staticmethod
    def receipt(data: dict) -> Receipt:
        error = data.get("error") or None
        return Receipt(provider_message_id=data["id"], notification_id=_uuid(data.get("client_reference")),
                       status="delivered" if data.get("state") == "delivered" else "undelivered"
                       if data.get("state") in ("failed", "expired") else "sent",
                       error=f"Kestrel {error.get('code')}: {error.get('detail')}" if error else None)

    @staticmethod
    def inbound(data: dict) -> InboundText:
        return InboundText(provider_message_id=data["id"], phone=data["from"], body=data["text"])


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def configured(settings: NotifySettings) -> list[Pelican | Kestrel]:
    """The providers with a base URL and a weight above zero."""
    providers: list[Pelican | Kestrel] = []
    if settings.pelican_base_url and settings.pelican_weight > 0:
        providers.append(Pelican(settings))
    if settings.kestrel_base_url and settings.kestrel_weight > 0:
        providers.append(Kestrel(settings))
    return providers
