"""Render resident messages from Jinja2 templates in a sandboxed environment.

One template per message kind × language × channel (``email/<kind>.<language>.txt`` and
``.html``), sharing a layout; subjects and the layout's words per language are in
``email/strings.json``. Dates are written in the resident's language (Babel). A missing
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


def _templates(kind: str, language: str, *, count: bool):
    try:
        return _env.get_template(f"email/{kind}.{language}.txt"), _env.get_template(f"email/{kind}.{language}.html")
    except TemplateNotFound:
        if language == FALLBACK_LANGUAGE:
            raise
        if count:
            FALLBACKS.labels(kind, language if language in LANGUAGES else "other").inc()
        return _templates(kind, FALLBACK_LANGUAGE, count=False)


def _long_date(value, language: str) -> str | None:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, format="full", locale=language) if isinstance(value, date) else None


def render_email(kind: str, language: str, context: dict, *, preview: bool = False) -> RenderedEmail:
    """The email for one message; ``preview`` renders it without counting a fallback."""
    wanted = language_of(language)
    text_t, html_t = _templates(kind, wanted, count=not preview)
    used = text_t.name.split(".")[-2]
    strings = _STRINGS[used]
    ctx = {"window": None, "hauler_name": None, "reason": None, "by": None, "previous_pickup_date": None,
           **context, "language": used, "t": strings["layout"]}
    ctx["pickup_date_long"] = _long_date(ctx.get("pickup_date"), used)
    ctx["previous_pickup_date_long"] = _long_date(ctx.get("previous_pickup_date"), used)
    subject = strings["subjects"][kind].format(reference=ctx["reference"])
    ctx["subject"] = subject
    return RenderedEmail(subject=subject, text=text_t.render(ctx), html=html_t.render(ctx), language=used)
