"""What the booking API accepts and returns."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from ..lifecycle import Status


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    AGENT_311 = "311_agent"
    OPEN311 = "open311"


class Language(StrEnum):
    EN = "en"
    ES = "es"
    VI = "vi"


class ContactChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120)]
    email: EmailStr | None = None
    phone: Annotated[str | None, Field(pattern=r"^\+[1-9][0-9]{7,14}$", description="E.164, e.g. +14085551234")] = None
    language: Language = Language.EN
    channels: list[ContactChannel] = Field(default_factory=lambda: [ContactChannel.EMAIL])

    @model_validator(mode="after")
    def _reachable(self) -> "Contact":
        if not self.email and not self.phone:
            raise ValueError("give an email address or a phone number so we can tell you about the pickup")
        if ContactChannel.EMAIL in self.channels and not self.email:
            raise ValueError("email is a chosen channel but no email address was given")
        if ContactChannel.SMS in self.channels and not self.phone:
            raise ValueError("sms is a chosen channel but no phone number was given")
        return self


class ItemLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: Annotated[str, Field(min_length=1, max_length=40, description="Item code from GET /v1/items")]
    quantity: Annotated[int, Field(ge=1, le=50)] = 1


class BookingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Annotated[str, Field(min_length=3, max_length=200)]
    pickup_date: date
    items: Annotated[list[ItemLine], Field(min_length=1, max_length=30)]
    contact: Contact
    channel: Channel = Channel.WEB
    notes: Annotated[str | None, Field(max_length=1000, description="Access instructions, where the items are")] = None
    hold_id: UUID | None = Field(default=None, description="A hold from POST /v1/holds for this address and date")
    photo_ids: list[UUID] = Field(default_factory=list, max_length=10,
                                  description="Photos of the items from POST /v1/photos")


class RescheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pickup_date: date
    hold_id: UUID | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str | None, Field(max_length=500)] = None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str | None, Field(max_length=2000)] = None


class MissedReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    details: Annotated[str | None, Field(max_length=1000)] = None


class BookedItem(BaseModel):
    item: str
    label: str
    quantity: int


class TimelineStep(BaseModel):
    at: datetime
    step: str
    status: Status | None
    outcome: str
    source: str
    detail: dict


class MaskedContact(BaseModel):
    name: str
    email: str | None
    phone: str | None
    language: Language
    channels: list[ContactChannel]


class BookingView(BaseModel):
    id: UUID
    reference: str
    status: Status
    address: str
    zone: str
    hauler: str
    pickup_date: date
    target_date: date = Field(description="The date by which the city promises the pickup")
    items: list[BookedItem]
    contact: MaskedContact
    channel: Channel
    notes: str | None
    hauler_reference: str | None
    created_at: datetime
    manage_url: str = Field(description="Signed link to view and change this booking without an account")
    change_deadline: datetime = Field(description="Until when the resident can cancel or reschedule")
    timeline: list[TimelineStep]
