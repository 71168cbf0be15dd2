"""Kafka helpers: topic creation and producer construction.

Topics are created explicitly with their partition count at start-up, because
a broker that auto-creates topics on first produce would pick its own count.
Nothing here relies on idempotent producers or transactions: the outbox and
inbox give effectively-once effects on any Kafka-protocol broker.
"""
from __future__ import annotations

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
