"""A hauler whose JSON API differs from everyone else's ("Northside Clean-Out"): OAuth2 client
credentials, its own names and nesting, its own status words. Haulbridge talks to it with the
declarative_json adapter and configuration only.

    POST /oauth/token             client_credentials grant (HTTP Basic or form client auth);
                                  tokens live token_ttl seconds
    POST /v2/pickups              {"order": {"ref", "city_ref", "day", "site": {"street", "geo"},
                                   "lines": [{"sku", "qty", "label"}], "contact": {...}, "remarks"}};
                                  Bearer token; idempotent on X-Request-Id
                                  → 201 {"data": {"pickup": {"id": "NS-00001", "state": "BOOKED"}}}
    GET  /v2/pickups/{id}         {"data": {"pickup": {"id", "state", "slot": {"day", "start", "end"}, "note"}}}
                                  state: BOOKED → SCHEDULED (schedule_delay s) → DONE (complete_delay s
                                  later), or NO_ACCESS (note "Could not reach the curb") for a street
                                  containing "NO ACCESS"
    GET  /_sim/orders/{id}        the order as the vendor received it
    GET  /_sim/stats              create calls, pickups per ref, tokens issued, status calls
    POST /_sim/faults             queue answers for the next API calls: [{"status": 503}, {"status": 429,
                                  "retry_after": 1}, {"status": 422, "message": "..."}, {"status": 401}]
Errors: {"error": {"code", "message"}}.

    python -m haulbridge_simulators.declarative_hauler   (settings from SIM_DECL_* environment variables)
"""
from __future__ import annotations

import base64
import itertools
import re
import secrets
import time
from collections import Counter
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeclarativeHaulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_DECL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8103
    client_id: str = "haulbridge"
    client_secret: str = "northside-demo-client-secret"
    token_ttl: float = 300.0
    schedule_delay: float = 1.0
    complete_delay: float = 3.0


def _error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def build_app(settings: DeclarativeHaulerSettings | None = None) -> FastAPI:
    s = settings or DeclarativeHaulerSettings()
    app = FastAPI(title="Northside Clean-Out pickups API (simulator)")
    tokens: dict[str, float] = {}  # token → expires at (monotonic)
    pickups: dict[str, dict] = {}
    by_request_id: dict[str, str] = {}
    faults: list[dict] = []
    stats = {"create_calls": 0, "status_calls": 0, "tokens_issued": 0}
    numbers = itertools.count(1)
    app.state.pickups = pickups

    def _client_ok(request: Request, form: dict) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == s.client_id and secrets.compare_digest(secret, s.client_secret)

    def _authorized(authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and tokens.get(token, 0) > time.monotonic()

    def _fault() -> JSONResponse | None:
        if not faults:
            return None
        fault = faults.pop(0)
        headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
        return _error(fault["status"], "simulated", fault.get("message", "simulated fault"), headers)

    @app.post("/oauth/token")
    async def token(request: Request):
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not _client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = secrets.token_urlsafe(24)
        tokens[value] = time.monotonic() + s.token_ttl
        stats["tokens_issued"] += 1
        return {"access_token": value, "token_type": "Bearer", "expires_in": s.token_ttl}

    @app.post("/v2/pickups", status_code=201)
    async def create(request: Request, authorization: str | None = Header(default=None),
                     x_request_id: str | None = Header(default=None)):
        if not _authorized(authorization):
            return _error(401, "unauthorized", "missing or expired access token")
        stats["create_calls"] += 1
        if (fault := _fault()) is not None:
            return fault
        try:
            order = (await request.json())["order"]
            day, street, lines = order["day"], order["site"]["street"], order["lines"]
        except (ValueError, KeyError, TypeError) as exc:
            return _error(422, "invalid_order", f"order is missing {exc}")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(day)) or not lines:
            return _error(422, "invalid_order", "order.day must be a date and order.lines not empty")
        if x_request_id and x_request_id in by_request_id:
            pickup = pickups[by_request_id[x_request_id]]
            return JSONResponse({"data": {"pickup": {"id": pickup["id"], "state": "BOOKED"}}}, status_code=200)
        pickup_id = f"NS-{next(numbers):05d}"
        pickups[pickup_id] = {"id": pickup_id, "order": order, "created": time.monotonic(), "street": street,
                              "day": day}
        if x_request_id:
            by_request_id[x_request_id] = pickup_id
        return {"data": {"pickup": {"id": pickup_id, "state": "BOOKED"}}}

    @app.get("/v2/pickups/{pickup_id}")
    async def status(pickup_id: str, authorization: str | None = Header(default=None)):
        if not _authorized(authorization):
            return _error(401, "unauthorized", "missing or expired access token")
        stats["status_calls"] += 1
        if (fault := _fault()) is not None:
            return fault
        pickup = pickups.get(pickup_id)
        if pickup is None:
            return _error(404, "not_found", f"no pickup {pickup_id}")
        age = time.monotonic() - pickup["created"]
        state, slot, note = "BOOKED", None, None
        if age >= s.schedule_delay:
            state, slot = "SCHEDULED", {"day": pickup["day"], "start": "09:00", "end": "13:00"}
        if age >= s.schedule_delay + s.complete_delay:
            state = "NO_ACCESS" if "NO ACCESS" in pickup["street"].upper() else "DONE"
            note = "Could not reach the curb" if state == "NO_ACCESS" else None
        return {"data": {"pickup": {"id": pickup_id, "state": state, "slot": slot, "note": note}}}

    @app.get("/_sim/orders/{pickup_id}")
    async def order_received(pickup_id: str):
        return pickups[pickup_id]["order"] if pickup_id in pickups else _error(404, "not_found", pickup_id)

    @app.get("/_sim/stats")
    async def sim_stats():
        return {**stats, "pickups_per_ref": Counter(p["order"].get("ref") for p in pickups.values())}

    @app.post("/_sim/faults", status_code=204)
    async def queue_faults(request: Request):
        faults.extend(await request.json())

    return app


def main() -> None:
    s = DeclarativeHaulerSettings()
    uvicorn.run(build_app(s), host=s.host, port=s.port, log_level="warning")


if __name__ == "__main__":
    main()
