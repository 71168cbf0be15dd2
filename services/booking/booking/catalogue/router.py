"""The item catalogue, in the resident's language."""
from __future__ import annotations

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from . import repository

router = APIRouter(prefix="/v1", tags=["items"])

LANGUAGES = ("en", "es", "vi")


class Item(BaseModel):
    code: str
    label: str
    max_per_booking: int | None


class ProhibitedItem(BaseModel):
    code: str
    label: str
    take_it_to: str | None


class Category(BaseModel):
    category: str
    items: list[Item]


class Catalogue(BaseModel):
    language: str
    max_items_per_booking: int
    accepted: list[Category]
    prohibited: list[ProhibitedItem]


def negotiate(accept_language: str | None) -> str:
    """The best of en/es/vi for an Accept-Language header (RFC 9110 q-values), English by default."""
    if not accept_language:
        return "en"
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, position, primary))
    return min(ranked)[2] if ranked else "en"


@router.get("/items", response_model=Catalogue, summary="What can go out for a junk pickup, and where the rest goes")
async def items(request: Request, accept_language: str | None = Header(default=None)) -> dict:
    language = negotiate(accept_language)
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await repository.all_items(conn)
    accepted: dict[str, list[dict]] = {}
    prohibited = []
    for r in rows:
        label = r[f"label_{language}"]
        if r["accepted"]:
            accepted.setdefault(r["category"], []).append(
                {"code": r["code"], "label": label, "max_per_booking": r["max_per_booking"]})
        else:
            prohibited.append({"code": r["code"], "label": label, "take_it_to": r["alternative"]})
    return {"language": language, "max_items_per_booking": request.state.rules.max_items_per_booking,
            "accepted": [{"category": c, "items": i} for c, i in accepted.items()], "prohibited": prohibited}
