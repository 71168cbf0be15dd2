"""Operators see what could not be processed, replay it once the cause is fixed (the effect happens
once), or discard it with a reason; every action is on record."""
from __future__ import annotations

import uuid

import pytest

from devstack.testing import eventually, in_process
from haulbridge_runtime import topics
from haulbridge_runtime.envelope import new_event
from haulbridge_runtime.inbox import inbox_transaction
from haulbridge_runtime.kafka import new_producer
from haulbridge_runtime.service import ServiceRuntime, create_app
from haulbridge_runtime.settings import ServiceSettings
from haulbridge_runtime.topics import EventType

TOKEN = "dead-letters-test-operator-token"
STAFF = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def migrations(tmp_path):
    (tmp_path / "001_effects.sql").write_text("CREATE TABLE effects (event_id uuid NOT NULL, n int NOT NULL);")
    return tmp_path


@pytest.fixture
async def service(database, infra, topic_prefix, migrations):
    """A small service whose handler fails while its cause is not fixed (e.g. a missing configuration)."""
    settings = ServiceSettings(service_name="test", database_url=database["booking"], db_schema="booking",
                               kafka_bootstrap_servers=infra.bootstrap, topic_prefix=topic_prefix,
                               consumer_max_attempts=2, consumer_retry_initial_seconds=0.01,
                               consumer_retry_max_seconds=0.02, operator_token=TOKEN)
    runtime = ServiceRuntime(settings, migrations)
    cause = {"fixed": False}

    async def apply(event):
        if not cause["fixed"]:
            raise RuntimeError("no integration configured for hauler 'westside-recovery'")
        async with inbox_transaction(runtime.pool, event, "test-group") as conn:
            await conn.execute("INSERT INTO effects VALUES ($1, $2)", event.id, event.data["n"])

    runtime.consume(group_id="test-group", topics=[topics.BOOKING], handlers={EventType.BOOKING_REQUESTED: apply})
    app = create_app(runtime, title="test")
    async with in_process(app) as client:
        client.runtime, client.cause = runtime, cause
        yield client


async def _publish(settings, *events):
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topics.qualified(e.topic, settings.topic_prefix), e.to_bytes(),
                                         key=e.subject.encode(), headers=e.kafka_headers())
    finally:
        await producer.stop()


def _event(n: int):
    booking = str(uuid.uuid4())
    return new_event(type=EventType.BOOKING_REQUESTED, source="/haulbridge/test", subject=booking, data={"n": n})


async def _parked(service, count: int):
    listed = (await service.get("/admin/v1/dead-letters", headers=STAFF)).json()
    return listed if len(listed) == count else None


async def test_a_parked_event_is_replayed_once_its_cause_is_fixed_and_another_discarded_with_a_reason(service):
    settings = service.runtime.settings
    first, second = _event(1), _event(2)
    await _publish(settings, first, second)
    parked = await eventually(lambda: _parked(service, 2), what="two parked events")
    assert {p["event_id"] for p in parked} == {first.id, second.id}
    one = next(p for p in parked if p["event_id"] == first.id)
    assert one["attempts"] == 2 and "no integration configured" in one["error"] and one["topic"] == topics.BOOKING
    url = f"/admin/v1/dead-letters/{one['dlq_topic']}/{one['partition']}/{one['offset']}"
    shown = (await service.get(url, headers=STAFF)).json()
    assert first.id in shown["payload"] and shown["actions"] == []

    refused = await service.post(f"{url}/replay", json={"reason": "retry"})
    assert refused.status_code == 401  # operators only
    still = await service.post(f"{url}/replay", headers=STAFF, json={"reason": "try again", "actor": "dana"})
    assert still.status_code == 409 and "failed again" in still.json()["detail"]  # not fixed yet: stays parked

    service.cause["fixed"] = True  # the integration is configured
    replayed = await service.post(f"{url}/replay", headers=STAFF, json={"reason": "integration added", "actor": "dana"})
    assert replayed.status_code == 200 and replayed.json()["outcome"] == "applied"
    again = await service.post(f"{url}/replay", headers=STAFF, json={"reason": "twice?", "actor": "dana"})
    assert again.status_code == 409  # replayed already: the effect happened once
    async with service.runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM effects") == 1

    other = next(p for p in parked if p["event_id"] == second.id)
    other_url = f"/admin/v1/dead-letters/{other['dlq_topic']}/{other['partition']}/{other['offset']}"
    no_reason = await service.post(f"{other_url}/discard", headers=STAFF, json={"reason": ""})
    assert no_reason.status_code == 422
    discarded = await service.post(f"{other_url}/discard", headers=STAFF,
                                   json={"reason": "test booking, resident called", "actor": "sam"})
    assert discarded.json()["status"] == "discarded"

    assert await _parked(service, 0) == []
    everything = (await service.get("/admin/v1/dead-letters?status=all", headers=STAFF)).json()
    assert sorted(p["status"] for p in everything) == ["discarded", "replayed"]
    history = (await service.get(url, headers=STAFF)).json()["actions"]
    assert [(a["action"], a["outcome"], a["actor"]) for a in history] == [
        ("replay", "still_failing", "dana"), ("replay", "applied", "dana")]
