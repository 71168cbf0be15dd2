"""Events that could not be processed, parked in ``<topic>.dlq`` by the consumer loop, seen and
repaired by operators.

    GET  /admin/v1/dead-letters                         this service's parked events (?status=parked|
                                                        replayed|discarded|all, ?topic=booking.v1)
    GET  /admin/v1/dead-letters/{dlq_topic}/{partition}/{offset}    one: payload, error, attempts, actions
    POST /admin/v1/dead-letters/{dlq_topic}/{partition}/{offset}/replay   {"reason", "actor"}
    POST /admin/v1/dead-letters/{dlq_topic}/{partition}/{offset}/discard  {"reason", "actor"}

A service lists the records its own consumer groups parked (``dlq-consumer`` header). Replay
hands the original event to the same consumer's handler, in this process: its inbox makes the
effect happen once (a second replay finds it ``already_applied``), and an event that still
fails stays parked and the answer says why (409). Every action is recorded in
``dead_letter_actions`` with who, why and what came of it. Needs the operator token.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from . import topics
from .envelope import Event
from .inbox import AlreadyProcessed
from .logs import get_logger
from .operators import require_operator
from .problems import Conflict, NotFound, problem_responses

log = get_logger(__name__)


@dataclass
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    headers: dict[str, str]
    value: bytes
    key: bytes | None = None  # the booking id, as the record was keyed
    actions: list[dict] = field(default_factory=list)

    @property
    def status(self) -> str:
        final = [a for a in self.actions if a["outcome"] in ("applied", "already_applied", "discarded")]
        return "parked" if not final else ("discarded" if final[-1]["action"] == "discard" else "replayed")

    def summary(self) -> dict:
        h = self.headers
        return {"dlq_topic": self.dlq_topic, "partition": self.partition, "offset": self.offset,
                "status": self.status, "consumer": h.get("dlq-consumer"), "topic": h.get("dlq-original-topic"),
                "event_id": h.get("ce_id"), "event_type": h.get("ce_type"), "error": h.get("dlq-error"),
                "booking_id": self.key.decode(errors="replace") if self.key else None,
                "attempts": int(h.get("dlq-attempts", "0") or 0), "failed_at": h.get("dlq-failed-at"),
                "original": {"partition": h.get("dlq-original-partition"), "offset": h.get("dlq-original-offset")}}


async def read_parked(runtime) -> list[DeadLetter]:
    """Every record this service's consumers parked, from the start of each dead-letter topic."""
    settings = runtime.settings
    groups = {c.group_id for c in runtime.consumers}
    names = sorted({topics.qualified(topics.dlq(t), settings.topic_prefix) for c in runtime.consumers
                    for t in c.topics})
    if not names:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                group_id=None, client_id=f"{settings.service_name}-dead-letters")
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        partitions = [TopicPartition(name, p) for name in names for p in (consumer.partitions_for_topic(name) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await asyncio.wait_for(consumer.getmany(*remaining, timeout_ms=500), timeout=30)
            for tp, records in batches.items():
                for r in records:
                    headers = {k: v.decode(errors="replace") for k, v in (r.headers or [])}
                    if headers.get("dlq-consumer") in groups:
                        found.append(DeadLetter(r.topic, r.partition, r.offset, headers, r.value, r.key))
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch("SELECT dlq_topic, partition, \"offset\", action, outcome, reason, actor, detail, at"
                                " FROM dead_letter_actions ORDER BY id")
    by_record: dict[tuple, list[dict]] = {}
    for row in rows:
        by_record.setdefault((row["dlq_topic"], row["partition"], row["offset"]), []).append(dict(row))
    for letter in found:
        letter.actions = by_record.get((letter.dlq_topic, letter.partition, letter.offset), [])
    return found


class Action(BaseModel):
    reason: str = Field(min_length=3, max_length=500, description="Why (kept in the audit record)")
    actor: str = Field(default="operator", min_length=1, max_length=100, description="Who is acting")


router = APIRouter(prefix="/admin/v1/dead-letters", tags=["dead letters"], dependencies=[Depends(require_operator)],
                   responses=problem_responses(401))


@router.get("", summary="Events this service could not process")
async def list_dead_letters(request: Request, status: str = "parked", topic: str | None = None) -> list[dict]:
    letters = await read_parked(request.app.state.runtime)
    return [d.summary() for d in letters if (status == "all" or d.status == status)
            and (topic is None or d.headers.get("dlq-original-topic") == topic)]


async def _one(request: Request, dlq_topic: str, partition: int, offset: int) -> DeadLetter:
    for letter in await read_parked(request.app.state.runtime):
        if (letter.dlq_topic, letter.partition, letter.offset) == (dlq_topic, partition, offset):
            return letter
    raise NotFound(f"No event of this service parked at {dlq_topic}/{partition}/{offset}.")


@router.get("/{dlq_topic}/{partition}/{offset}", responses=problem_responses(404), summary="One parked event")
async def show_dead_letter(dlq_topic: str, partition: int, offset: int, request: Request) -> dict:
    letter = await _one(request, dlq_topic, partition, offset)
    return {**letter.summary(), "payload": letter.value.decode(errors="replace"), "headers": letter.headers,
            "actions": letter.actions}


async def _record(request: Request, letter: DeadLetter, action: str, outcome: str, body: Action,
                  detail: str | None = None) -> None:
    async with request.app.state.runtime.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO dead_letter_actions (dlq_topic, partition, \"offset\", action, outcome, reason, actor, detail)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)", letter.dlq_topic, letter.partition, letter.offset, action, outcome,
            body.reason, body.actor, detail)
    log.warning("dead letter " + action, dlq_topic=letter.dlq_topic, partition=letter.partition,
                offset=letter.offset, outcome=outcome, actor=body.actor, reason=body.reason)


@router.post("/{dlq_topic}/{partition}/{offset}/replay", responses=problem_responses(404, 409, 422),
             summary="Hand the event to its consumer again")
async def replay_dead_letter(dlq_topic: str, partition: int, offset: int, body: Action, request: Request) -> dict:
    letter = await _one(request, dlq_topic, partition, offset)
    if letter.status != "parked":
        raise Conflict(f"This event was already {letter.status}.")
    runtime = request.app.state.runtime
    consumer = next(c for c in runtime.consumers if c.group_id == letter.headers.get("dlq-consumer"))
    try:
        event = Event.from_bytes(letter.value)
        handler = consumer.handlers[event.type]
    except (ValueError, KeyError) as exc:
        await _record(request, letter, "replay", "still_failing", body, f"cannot be handled: {exc!r}")
        raise Conflict(f"This event cannot be handled ({exc!r}); discard it with a reason.") from exc
    try:
        await handler(event)
        outcome = "applied"
    except AlreadyProcessed:
        outcome = "already_applied"
    except Exception as exc:  # the handler's own error: the event stays parked, and we say why
        await _record(request, letter, "replay", "still_failing", body, repr(exc)[:2000])
        raise Conflict(f"Replayed, and it failed again: {exc!r}. It stays parked.") from exc
    await _record(request, letter, "replay", outcome, body)
    return {**letter.summary(), "status": "replayed", "outcome": outcome}


@router.post("/{dlq_topic}/{partition}/{offset}/discard", responses=problem_responses(404, 409, 422),
             summary="Give up on the event, saying why")
async def discard_dead_letter(dlq_topic: str, partition: int, offset: int, body: Action, request: Request) -> dict:
    letter = await _one(request, dlq_topic, partition, offset)
    if letter.status != "parked":
        raise Conflict(f"This event was already {letter.status}.")
    await _record(request, letter, "discard", "discarded", body)
    return {**letter.summary(), "status": "discarded"}
