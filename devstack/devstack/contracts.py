"""The committed contracts: event JSON Schemas and the services' OpenAPI documents.

    python -m devstack.contracts write   # regenerate contracts/openapi/*.json from the code
    python -m devstack.contracts check   # exit 1 when they differ (the tests do the same)
"""
from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
EVENTS = CONTRACTS / "events"
OPENAPI = CONTRACTS / "openapi"


@cache
def _registry() -> tuple[Registry, dict[str, dict]]:
    schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in EVENTS.glob("*.schema.json")}
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return registry, schemas


def event_schema_names() -> set[str]:
    return set(_registry()[1]) - {"envelope"}


def validate_event(event: dict) -> None:
    """Raise jsonschema.ValidationError unless ``event`` matches its type's schema."""
    registry, schemas = _registry()
    name = event.get("type", "").removeprefix("org.haulbridge.")
    if name not in schemas:
        raise LookupError(f"no schema in contracts/events for event type {event.get('type')!r}")
    Draft202012Validator(schemas[name], registry=registry, format_checker=FormatChecker()).validate(event)


def openapi_documents() -> dict[str, dict]:
    """The OpenAPI document each service's code produces (no server started)."""
    from booking.app import build_app as booking_app
    from booking.settings import BookingSettings

    return {"booking": booking_app(BookingSettings()).openapi()}


def _render(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    OPENAPI.mkdir(parents=True, exist_ok=True)
    drift = []
    for name, doc in openapi_documents().items():
        path = OPENAPI / f"{name}.openapi.json"
        if command == "write":
            path.write_text(_render(doc))
            print(f"wrote {path.relative_to(ROOT)}")
        elif not path.exists() or path.read_text() != _render(doc):
            drift.append(str(path.relative_to(ROOT)))
    if drift:
        print("OpenAPI drifted from the code; run `make contracts`: " + ", ".join(drift), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
