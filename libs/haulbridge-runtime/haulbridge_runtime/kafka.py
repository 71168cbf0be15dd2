"""Kafka helpers: topic creation and producer construction.

Topics are created explicitly with their partition count at start-up, because
a broker that auto-creates topics on first produce would pick its own count.
Nothing here relies on idempotent producers or transactions: the outbox and
inbox give effectively-once effects on any Kafka-protocol broker.
"""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from . import topics as topic_names
from .logs import get_logger

log = get_logger(__name__)


def platform_topics(prefix: str = "") -> list[str]:
    """Every topic of the platform and its dead-letter topic, as named on the broker."""
    names = [*topic_names.ALL_TOPICS, *(topic_names.dlq(t) for t in topic_names.ALL_TOPICS)]
    return [topic_names.qualified(t, prefix) for t in names]


async def ensure_topics(bootstrap: str, names: list[str], partitions: int) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(name=n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process won the race; the topic is there, which is all we need
            log.info("topics created", topics=missing, partitions=partitions)
        return missing
    finally:
        await admin.close()


def new_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10000,
        retry_backoff_ms=200,
    )


# How long a Kafka client may take to leave its group and close on shutdown. Past it the process goes
# on stopping: the broker drops the member after its session timeout, and nothing is lost, since
# offsets are committed only after each event's database commit.
CLOSE_TIMEOUT_SECONDS = 10.0


async def close_quietly(client, *, what: str) -> None:
    """Stop an aiokafka consumer or producer within CLOSE_TIMEOUT_SECONDS, never raising."""
    try:
        await asyncio.wait_for(client.stop(), timeout=CLOSE_TIMEOUT_SECONDS)
    except Exception as exc:  # a broker that is slow or gone must not hold up the shutdown
        log.warning("kafka client did not close cleanly", client=what, error=repr(exc))
