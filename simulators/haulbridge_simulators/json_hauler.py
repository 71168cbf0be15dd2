"""A hauler with its own small JSON API and signed webhooks ("Valley Haul Co.").

    POST /oauth/token            OAuth2 client credentials (HTTP Basic or form client auth)
    POST /api/v1/jobs            create a job; idempotent on the Idempotency-Key header
    POST /api/v1/jobs/{id}/cancel   cancel it (409 once done);  PATCH /api/v1/jobs/{id}  {"service_date"}
    GET  /api/v1/jobs            the hauler's job list
    GET  /api/v1/jobs/{job_id}   one job
    GET  /_sim/stats             how many jobs exist per customer reference, and create calls seen
    GET  /_sim/jobs              every job with its history
    DELETE /_sim/jobs/{job_id}   the hauler loses a job;  POST /_sim/jobs  one it entered itself;
    PATCH /_sim/jobs/{job_id}    its status changes with no webhook
    POST /_sim/faults            queue answers for the next create calls, e.g.
                                 [{"status": 503}, {"status": 429, "retry_after": 1}, {"status": 422},
                                  {"delay": 2} (slow, then made), {"body": "<html>"} (broken, not made)]

After a job is created the simulator confirms it (``job.confirmed``) after
``confirm_delay`` seconds and completes it (``job.completed``) after a further
``complete_delay``, by calling the adapter's webhook signed Standard Webhooks
style; deliveries that fail are retried with backoff, as real vendors do.

    python -m haulbridge_simulators.json_hauler   (settings from SIM_JSON_* environment variables)
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from standardwebhooks.webhooks import Webhook


class JsonHaulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_JSON_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8101
    api_key: str = "valley-haul-demo-key"
    webhook_url: str = "http://127.0.0.1:8002/webhooks/valley-haul"
    webhook_secret: str = "whsec_dmFsbGV5LWhhdWwtZGVtby13ZWJob29rLXNlY3JldA=="
    confirm_delay: float = 1.0
    complete_delay: float = 3.0
    webhook_max_attempts: int = 30
    latency: float = 0.0  # seconds every create call takes (a hauler's real API is not instant)
    # OAuth2 client credentials: POST /oauth/token gives tokens that live token_ttl seconds. With
    # oauth_only, the static API key is no longer accepted.
    client_id: str = "haulbridge"
    client_secret: str = "valley-haul-demo-key"
    token_ttl: float = 3600.0
    oauth_only: bool = False


def build_app(settings: JsonHaulerSettings | None = None) -> FastAPI:
    s = settings or JsonHaulerSettings()
    app = FastAPI(title="Valley Haul Co. job API (simulator)")
    jobs: dict[str, dict] = {}
    by_key: dict[str, str] = {}
    create_calls: Counter[str] = Counter()
    faults: list[dict] = []
    numbers = itertools.count(1)
    lock = asyncio.Lock()
    tasks: set[asyncio.Task] = set()
    signer = Webhook(s.webhook_secret)
    app.state.jobs = jobs

    tokens: dict[str, float] = {}  # access token → expires at (monotonic)
    app.state.tokens_issued = 0

    def _auth(authorization: str | None) -> None:
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and tokens.get(credential, 0) > time.monotonic():
            return
        if not s.oauth_only and authorization == f"Bearer {s.api_key}":
            return
        raise HTTPException(status_code=401, detail="invalid or expired access token")

    @app.post("/oauth/token")
    async def token(request: Request):
        form = dict(parse_qsl((await request.body()).decode()))
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if client_id != s.client_id or secret != s.client_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = secrets.token_urlsafe(24)
        tokens[value] = time.monotonic() + s.token_ttl
        app.state.tokens_issued += 1
        return {"access_token": value, "token_type": "Bearer", "expires_in": s.token_ttl}

    async def _deliver(job: dict, event_type: str) -> None:
        body = json.dumps({
            "type": event_type, "job_id": job["job_id"], "customer_reference": job["customer_reference"],
            "service_date": job["service_date"], "window": job["window"],
            "occurred_at": datetime.now(UTC).isoformat(),
        })
        msg_id = f"msg_{uuid.uuid4().hex}"
        delay = 0.5
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(s.webhook_max_attempts):
                now = datetime.now(UTC)
                headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                           "webhook-signature": signer.sign(msg_id, now, body),
                           "content-type": "application/json"}
                try:
                    r = await client.post(s.webhook_url, content=body, headers=headers)
                    if r.status_code < 300:
                        job["webhooks_delivered"].append(event_type)
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def _lifecycle(job: dict) -> None:
        await asyncio.sleep(s.confirm_delay)
        if job["status"] == "cancelled":
            return
        job["status"] = "confirmed"
        await _deliver(job, "job.confirmed")
        await asyncio.sleep(s.complete_delay)
        if job["status"] == "cancelled":
            return
        job["status"] = "completed"
        await _deliver(job, "job.completed")

    @app.post("/api/v1/jobs", status_code=201)
    async def create_job(request: Request, authorization: str | None = Header(default=None),
                         idempotency_key: str | None = Header(default=None)):
        _auth(authorization)
        if s.latency:
            await asyncio.sleep(s.latency)
        if not idempotency_key:
            raise HTTPException(status_code=400, detail="Idempotency-Key header is required")
        body = await request.json()
        for field in ("customer_reference", "service_date", "address", "items"):
            if field not in body:
                raise HTTPException(status_code=422, detail=f"missing field {field}")
        async with lock:
            create_calls[body["customer_reference"]] += 1
            fault = faults.pop(0) if faults else None
        if fault and "delay" in fault:  # slow: the job is made, but after the caller may have given up
            await asyncio.sleep(fault["delay"])
        elif fault and "body" in fault:  # a broken answer, and no job
            return Response(fault["body"], status_code=fault.get("status", 200), media_type="application/json")
        elif fault:
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
            return JSONResponse({"error": fault.get("reason", "simulated fault")},
                                status_code=fault["status"], headers=headers)
        async with lock:
            if idempotency_key in by_key:
                job = jobs[by_key[idempotency_key]]
                return JSONResponse({"job_id": job["job_id"], "status": job["status"]}, status_code=200)
            job_id = f"VH-{next(numbers):06d}"
            job = {"job_id": job_id, "status": "accepted", "customer_reference": body["customer_reference"],
                   "city_reference": body.get("city_reference"), "service_date": body["service_date"],
                   "window": {"from": "08:00", "to": "12:00"}, "request": body, "webhooks_delivered": [],
                   "history": ["created"]}
            jobs[job_id] = job
            by_key[idempotency_key] = job_id
        task = asyncio.create_task(_lifecycle(job))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return {"job_id": job_id, "status": "accepted"}

    @app.post("/api/v1/jobs/{job_id}/cancel")
    async def cancel_job(job_id: str, request: Request, authorization: str | None = Header(default=None)):
        _auth(authorization)
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(status_code=404, detail="no such job")
        if job["status"] == "completed":
            raise HTTPException(status_code=409, detail="the job is already done")
        job["status"] = "cancelled"
        job["history"].append("cancelled")
        return {"job_id": job_id, "status": "cancelled"}

    @app.patch("/api/v1/jobs/{job_id}")
    async def move_job(job_id: str, request: Request, authorization: str | None = Header(default=None)):
        _auth(authorization)
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(status_code=404, detail="no such job")
        job["service_date"] = (await request.json())["service_date"]
        job["history"].append(f"moved to {job['service_date']}")
        return {"job_id": job_id, "status": job["status"], "service_date": job["service_date"]}

    @app.get("/api/v1/jobs")
    async def list_jobs(authorization: str | None = Header(default=None)):
        _auth(authorization)
        return [{k: v for k, v in j.items() if k != "request"} for j in jobs.values()]

    @app.get("/api/v1/jobs/{job_id}")
    async def get_job(job_id: str, authorization: str | None = Header(default=None)):
        _auth(authorization)
        if job_id not in jobs:
            raise HTTPException(status_code=404, detail="no such job")
        return jobs[job_id]

    @app.get("/_sim/jobs")
    async def sim_jobs():
        """Every job with its history, for tests (no token needed)."""
        return [{k: v for k, v in j.items() if k != "request"} for j in jobs.values()]

    @app.delete("/_sim/jobs/{job_id}", status_code=204)
    async def lose_job(job_id: str):
        """The hauler loses a job (a database restore, a careless clerk): gone from its list and its keys."""
        jobs.pop(job_id, None)
        for key in [k for k, v in by_key.items() if v == job_id]:
            del by_key[key]

    @app.patch("/_sim/jobs/{job_id}", status_code=204)
    async def change_job(job_id: str, request: Request):
        """The hauler's status changes and no webhook tells the city (its webhook sender was down)."""
        jobs[job_id]["status"] = (await request.json())["status"]

    @app.post("/_sim/jobs", status_code=201)
    async def add_job(request: Request):
        """A job the hauler entered by itself (a resident phoned it directly): the city never dispatched it."""
        body = await request.json()
        job_id = f"VH-{next(numbers):06d}"
        jobs[job_id] = {"job_id": job_id, "status": body.get("status", "accepted"),
                        "customer_reference": body.get("customer_reference", "phoned-in"),
                        "city_reference": None, "service_date": body.get("service_date"),
                        "window": None, "request": body, "webhooks_delivered": [], "history": ["created"]}
        return {"job_id": job_id}

    @app.post("/_sim/faults", status_code=204)
    async def queue_faults(request: Request):
        faults.extend(await request.json())

    @app.get("/_sim/stats")
    async def stats():
        per_customer = Counter(j["customer_reference"] for j in jobs.values())
        return {"jobs": len(jobs), "jobs_per_customer_reference": per_customer,
                "create_calls_per_customer_reference": create_calls, "tokens_issued": app.state.tokens_issued}

    return app


def main() -> None:
    s = JsonHaulerSettings()
    uvicorn.run(build_app(s), host=s.host, port=s.port, log_level="warning")


if __name__ == "__main__":
    main()
