"""Render resident messages from Jinja2 templates in a sandboxed environment.

One template per message kind × language × channel; a missing translation
falls back to English.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import resources

from jinja2 import ChoiceLoader, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

FALLBACK_LANGUAGE = "en"

_env = SandboxedEnvironment(
    loader=ChoiceLoader([PackageLoader("notify", "templates")]),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_SUBJECTS = json.loads((resources.files("notify") / "templates" / "email" / "subjects.json").read_text())


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str


def _template(kind: str, language: str, ext: str):
    try:
        return _env.get_template(f"email/{kind}.{language}.{ext}"), language
    except TemplateNotFound:
        return _env.get_template(f"email/{kind}.{FALLBACK_LANGUAGE}.{ext}"), FALLBACK_LANGUAGE


def render_email(kind: str, language: str, context: dict) -> RenderedEmail:
    ctx = dict(context)
    if isinstance(ctx.get("pickup_date"), date):
        ctx["pickup_date_long"] = ctx["pickup_date"].strftime("%A %-d %B %Y")
    ctx.setdefault("window", None)
    ctx.setdefault("hauler_name", None)
    text_t, used = _template(kind, language, "txt")
    html_t, _ = _template(kind, used, "html")
    subjects = _SUBJECTS[kind]
    subject = subjects.get(used, subjects[FALLBACK_LANGUAGE]).format(**ctx)
    ctx["subject"] = subject
    ctx["language"] = used
    return RenderedEmail(subject=subject, text=text_t.render(ctx), html=html_t.render(ctx), language=used)
