"""Render resident messages from Jinja2 templates in a sandboxed environment.

One template per message kind × language × channel: ``email/<kind>.<language>.txt`` and
``.html``, sharing a layout (subjects and the layout's words per language are in
``email/strings.json``), and ``sms/<kind>.<language>.txt``, whose segments are counted
(:mod:`notify.segments`). Dates are written in the resident's language (Babel). A missing
translation falls back to English, and each fallback is counted
(``haulbridge_notify_template_fallbacks_total``) so the gap is seen and filled.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources

from babel.dates import format_date
from jinja2 import PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from prometheus_client import Counter

from .segments import Segments
from .segments import count as count_segments

FALLBACK_LANGUAGE = "en"
LANGUAGES = ("en", "es", "vi")

FALLBACKS = Counter("haulbridge_notify_template_fallbacks_total",
                    "Messages rendered in English because the resident's language has no template",
                    ["kind", "language"])

_env = SandboxedEnvironment(
    loader=PackageLoader("notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_STRINGS = json.loads((resources.files("notify") / "templates" / "email" / "strings.json").read_text())


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


def language_of(preference: str | None) -> str:
    """``es-MX`` → ``es``: the language part of a resident's preference."""
    base = (preference or FALLBACK_LANGUAGE).replace("_", "-").split("-")[0].lower()
    return base if base.isalpha() and len(base) <= 3 else FALLBACK_LANGUAGE


def _template(path: str, extension: str, language: str, *, count: bool):
    """``<path>.<language>.<extension>``, or the English one (counted) when the language has none."""
    try:
        return _env.get_template(f"{path}.{language}.{extension}")
    except TemplateNotFound:
        if language == FALLBACK_LANGUAGE:
            raise
        if count:
            FALLBACKS.labels(path.split("/")[-1], language if language in LANGUAGES else "other").inc()
        return _template(path, extension, FALLBACK_LANGUAGE, count=False)


def _long_date(value, language: str) -> str | None:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, format="full", locale=language) if isinstance(value, date) else None


def _context(context: dict, language: str) -> dict:
    ctx = {"window": None, "hauler_name": None, "reason": None, "by": None, "previous_pickup_date": None,
           "manage_url": None, "pickup_date": None, **context, "language": language}
    ctx["pickup_date_long"] = _long_date(ctx.get("pickup_date"), language)
    ctx["previous_pickup_date_long"] = _long_date(ctx.get("previous_pickup_date"), language)
    return ctx


def render_email(kind: str, language: str, context: dict, *, preview: bool = False) -> RenderedEmail:
    """The email for one message; ``preview`` renders it without counting a fallback."""
    wanted = language_of(language)
    text_t = _template(f"email/{kind}", "txt", wanted, count=not preview)
    used = text_t.name.split(".")[-2]
    html_t = _template(f"email/{kind}", "html", used, count=False)
    strings = _STRINGS[used]
    ctx = {**_context(context, used), "t": strings["layout"]}
    subject = strings["subjects"][kind].format(reference=ctx["reference"])
    ctx["subject"] = subject
    return RenderedEmail(subject=subject, text=text_t.render(ctx), html=html_t.render(ctx), language=used)


@dataclass(frozen=True)
class RenderedSms:
    text: str
    language: str
    segments: Segments


def render_sms(kind: str, language: str, context: dict, *, preview: bool = False) -> RenderedSms:
    """The text message for one message kind; segments counted (Vietnamese is UCS-2)."""
    wanted = language_of(language)
    template = _template(f"sms/{kind}", "txt", wanted, count=not preview)
    used = template.name.split(".")[-2]
    text = template.render(_context(context, used)).strip()
    return RenderedSms(text=text, language=used, segments=count_segments(text))
