"""Template previews for the city's staff: any message in any language and channel, rendered with sample data.

``GET /admin/v1/templates`` lists the messages; ``GET /admin/v1/templates/{kind}/{language}``
renders one as a resident would get it, saying when it fell back to English. Calls need
``Authorization: Bearer <NOTIFY_OPERATOR_TOKEN>``.
"""
from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Depends

from haulbridge_runtime.operators import require_operator
from haulbridge_runtime.problems import NotFound, problem_responses

from .events import KINDS
from .resident_texts import REPLIES
from .templates_render import LANGUAGES, language_of, render_email, render_sms

REPLY_KINDS = sorted(REPLIES.values())


router = APIRouter(prefix="/admin/v1/templates", tags=["templates"], dependencies=[Depends(require_operator)],
                   responses=problem_responses(401))


def sample(kind: str) -> dict:
    """What a demo-city booking would put in the message."""
    pickup = date.today() + timedelta(days=8)
    return {"name": "Lan Nguyen", "reference": "JP-2026-000123",
            "manage_url": "https://junk.example.gov/v1/bookings/JP-2026-000123?token=sample",
            "pickup_date": pickup, "previous_pickup_date": (pickup - timedelta(days=3)).isoformat(),
            "window": {"from": "08:00", "to": "12:00"}, "hauler_name": "Valley Haul Co.",
            "by": "hauler", "reason": "truck repairs" if kind != "pickup_missed" else "items not at the curb",
            "completed_at": None}


def _sms(kind: str, language: str) -> dict:
    rendered = render_sms(kind, language, sample(kind), preview=True)
    return {"text": rendered.text, "rendered_language": rendered.language, "encoding": rendered.segments.encoding,
            "segments": rendered.segments.count}


@router.get("", summary="The messages residents get, and the languages each is written in")
async def list_templates() -> list[dict]:
    return [{"kind": kind, "channels": ["email", "sms"] if kind in KINDS else ["sms"],
             "languages": [lang for lang in LANGUAGES if _sms(kind, lang)["rendered_language"] == lang
                           and (kind not in KINDS or render_email(kind, lang, sample(kind), preview=True).language
                                == lang)]}
            for kind in [*KINDS, *REPLY_KINDS]]


@router.get("/{kind}/{language}", responses=problem_responses(404), summary="One message, rendered with sample data")
async def preview(kind: str, language: str) -> dict:
    """The email (subject, text, HTML) and the text message (with its encoding and segments);
    replies to a resident's text are SMS only."""
    if kind not in KINDS and kind not in REPLY_KINDS:
        raise NotFound(f"No message '{kind}'. Messages: {', '.join([*KINDS, *REPLY_KINDS])}.")
    sms = _sms(kind, language)
    shown = {"kind": kind, "language": language_of(language), "sms": sms}
    if kind not in KINDS:
        return {**shown, "rendered_language": sms["rendered_language"],
                "fell_back_to_english": sms["rendered_language"] != language_of(language)}
    rendered = render_email(kind, language, sample(kind), preview=True)
    return {**shown, "rendered_language": rendered.language,
            "fell_back_to_english": rendered.language != language_of(language),
            "subject": rendered.subject, "text": rendered.text, "html": rendered.html}
