"""What the SMS provider simulators share: segment counting, the simulated handsets' log,
fault injection, and callbacks retried with backoff.

Every simulator built on :class:`SmsSim` also serves

    GET    /_sim/messages     the handset log, oldest first (optionally ?to=+1408...)
    DELETE /_sim/messages     forget the messages and the stats
    GET    /_sim/stats        {"create_calls": n, "accepted": n, "per_recipient": {to: n}}
    POST   /_sim/faults       queue answers for the next send calls, each popped by one call:
                              [{"status": 503}, {"status": 429, "retry_after": 1}, {"delay": 5}]
    PUT    /_sim/outage       {"status": 503}: every send call answers that until DELETE /_sim/outage

Numbers ending in 0000 are unreachable: their receipts say the message did not arrive.
"""
from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime

import gsm0338  # noqa: F401  registers the "gsm03.38" codec
import httpx
from fastapi import APIRouter, Request

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
MAX_BODY_CHARS = 1600
CALLBACK_ATTEMPTS = 10


def segments(text: str) -> tuple[str, int]:
    """(encoding, count): GSM-7 in 160 septets alone or 153 per part, else UCS-2 in 70 or 67 units."""
    try:
        septets = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)
    return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)


def unreachable(number: str) -> bool:
    return number.endswith("0000")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def retry_after(fault: dict) -> dict[str, str] | None:
    return {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None


async def deliver(url: str, content: bytes, headers: Callable[[], dict[str, str]]) -> None:
    """POST until a 2xx answer: backoff 0.2 s doubling up to 2 s, at most CALLBACK_ATTEMPTS tries.
    ``headers`` is called for each try (signatures may carry a timestamp)."""
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(CALLBACK_ATTEMPTS):
            if attempt:
                await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                if (await client.post(url, content=content, headers=headers())).is_success:
                    return
            except httpx.TransportError:
                pass


class SmsSim:
    """The handsets' side of a provider: accepted messages, send-call stats, faults and outage."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.create_calls = 0
        self.faults: list[dict] = []
        self.outage: dict | None = None
        self.tasks: set[asyncio.Task] = set()

    def record(self, *, id: str, to: str, sender: str, body: str, status: str,
               client_reference: str | None = None) -> dict:
        encoding, count = segments(body)
        message = {"id": id, "to": to, "from": sender, "body": body, "status": status, "segments": count,
                   "encoding": encoding, "client_reference": client_reference, "created_at": now_iso()}
        self.messages.append(message)
        return message

    async def fault(self) -> dict | None:
        """Count a send call; the fault it must answer with (an outage, or the next queued fault), if any.
        A queued delay is slept out here, and the call then goes on normally."""
        self.create_calls += 1
        fault = self.outage or (self.faults.pop(0) if self.faults else None)
        if fault and "delay" in fault:
            await asyncio.sleep(fault["delay"])
            return None
        return fault

    def spawn(self, coro: Coroutine) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/_sim")

        @router.get("/messages")
        async def messages(to: str | None = None):
            return [m for m in self.messages if to is None or m["to"] == to]

        @router.delete("/messages", status_code=204)
        async def forget():
            self.messages.clear()
            self.create_calls = 0

        @router.get("/stats")
        async def stats():
            return {"create_calls": self.create_calls, "accepted": len(self.messages),
                    "per_recipient": Counter(m["to"] for m in self.messages)}

        @router.post("/faults", status_code=204)
        async def queue_faults(request: Request):
            self.faults.extend(await request.json())

        @router.put("/outage", status_code=204)
        async def start_outage(request: Request):
            self.outage = await request.json()

        @router.delete("/outage", status_code=204)
        async def end_outage():
            self.outage = None

        return router

