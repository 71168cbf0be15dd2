"""The consumer loop every service uses.

- Offsets are committed only after the handler's database transaction has
  committed (auto-commit is off), so a crash replays, never skips.
- Partitions of one poll are handled concurrently; records of one partition
  strictly in order, so one booking's events apply in the order written.
  With ``key_concurrency`` above 1, records of one partition with *different
  keys* (different bookings) are handled concurrently too, up to that many at
  a time, while records with the same key keep their order; the partition's
  offset is committed once the whole batch is done. For a handler that waits
  on a slow vendor this is the difference between 20 and 1,000 a second.
- A failing event is retried with exponential backoff and jitter; after the
  last attempt (or at once for a :class:`PermanentError` or an undecodable
  record) it is parked in ``<topic>.dlq`` with the error, attempt count and
  its origin, and only then is its offset committed. Nothing is dropped.
- Records of a dead-letter topic (a consumer that watches them, like ops) are never parked
  again: a failure there is retried until it succeeds, and a record that is not an event at
  all is counted and left where it is (its owning service lists it).
- The record being handled is in :data:`CURRENT_RECORD` (topic, partition, offset and
  headers), for handlers that need more than the event.
- A rebalance listener lets the in-flight batch finish and commits its
  offsets before partitions are handed to another member.
"""
from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential_jitter,
)

from . import metrics, topics, tracing
from .envelope import Event, trace_id_of
from .inbox import AlreadyProcessed
from .kafka import close_quietly, new_producer
from .logs import bound, get_logger

log = get_logger(__name__)

Handler = Callable[[Event], Awaitable[None]]

# The Kafka record whose event the handler is handling now.
CURRENT_RECORD: ContextVar[ConsumerRecord | None] = ContextVar("current_record", default=None)


class PermanentError(Exception):
    """Retrying cannot help (bad data, a contract violation): park the event at once."""


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, owner: "EventConsumer") -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked) -> None:
        # Wait for the batch in hand; its offsets are committed before we return.
        async with self.owner._processing:
            log.info("partitions revoked", partitions=[f"{tp.topic}:{tp.partition}" for tp in revoked])

    async def on_partitions_assigned(self, assigned) -> None:
        self.owner.assigned = set(assigned)
        log.info("partitions assigned", partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned])


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        group_id: str,
        topics_: list[str],
        handlers: dict[str, Handler],
        bootstrap: str,
        topic_prefix: str = "",
        max_attempts: int = 5,
        retry_initial_seconds: float = 0.2,
        retry_max_seconds: float = 5.0,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 1000,
        key_concurrency: int = 1,
    ) -> None:
        self.service = service
        self.group_id = group_id
        self.topics = list(topics_)
        self.handlers = handlers
        self.bootstrap = bootstrap
        self.prefix = topic_prefix
        self.max_attempts = max_attempts
        self.retry_initial = retry_initial_seconds
        self.retry_max = retry_max_seconds
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.key_concurrency = key_concurrency
        self._processing = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq_producer = None
        self.assigned: set[TopicPartition] = set()
        self.running = False
        self._base_topic = {topics.qualified(t, topic_prefix): t for t in self.topics}

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.service}-{self.group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            max_poll_records=500,
        )
        self._dlq_producer = new_producer(self.bootstrap, client_id=f"{self.service}-dlq")
        await consumer.start()
        await self._dlq_producer.start()
        self._consumer = consumer
        consumer.subscribe(list(self._base_topic), listener=_Rebalance(self))
        self.running = True
        log.info("consumer started", group=self.group_id, topics=list(self._base_topic))
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                if not batches:
                    continue
                async with self._processing:
                    await asyncio.gather(*(self._process_partition(tp, recs) for tp, recs in batches.items()))
                self._record_lag(batches)
        finally:
            self.running = False
            await close_quietly(consumer, what=f"consumer:{self.group_id}")
            await close_quietly(self._dlq_producer, what=f"dlq-producer:{self.group_id}")

    def _record_lag(self, batches) -> None:
        for tp, records in batches.items():
            end = self._consumer.highwater(tp)
            if end is not None:
                metrics.CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(
                    max(0, end - records[-1].offset - 1)
                )

    async def _process_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        if self.key_concurrency <= 1:
            for record in records:
                await self._handle_record(record)
        else:
            by_key: dict[bytes | None, list[ConsumerRecord]] = {}
            for record in records:
                by_key.setdefault(record.key, []).append(record)
            limit = asyncio.Semaphore(self.key_concurrency)

            async def in_order(same_key: list[ConsumerRecord]) -> None:
                async with limit:
                    for record in same_key:
                        await self._handle_record(record)

            await asyncio.gather(*(in_order(same_key) for same_key in by_key.values()))
        await self._consumer.commit({tp: records[-1].offset + 1})

    async def _handle_record(self, record: ConsumerRecord) -> None:
        base_topic = self._base_topic.get(record.topic, record.topic)
        from_dead_letters = base_topic.endswith(topics.DLQ_SUFFIX)
        CURRENT_RECORD.set(record)
        try:
            event = Event.from_bytes(record.value)
        except Exception as exc:
            if from_dead_letters:  # already parked where its service lists it; parking it again helps no one
                metrics.EVENTS_CONSUMED.labels(self.service, base_topic, "unreadable").inc()
                log.warning("unreadable record in a dead-letter topic left there", topic=record.topic,
                            partition=record.partition, offset=record.offset)
                return
            await self._dead_letter(record, base_topic, f"undecodable event: {exc}", attempts=1)
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            # Consumers tolerate event types they do not care about.
            metrics.EVENTS_CONSUMED.labels(self.service, base_topic, "ignored").inc()
            return
        started = time.perf_counter()
        attempts = 0
        with bound(correlation_id=event.correlationid, event_id=event.id, event_type=event.type,
                   booking_id=event.subject, traceparent=event.traceparent, trace_id=trace_id_of(event.traceparent)), \
                tracing.consumer_span(topic=record.topic, partition=record.partition, offset=record.offset,
                                      key=record.key, group=self.group_id, event_id=event.id, event_type=event.type,
                                      traceparent=event.traceparent) as span:
            try:
                async for attempt in AsyncRetrying(
                    # from a dead-letter topic there is nowhere further to park: retry until it succeeds
                    stop=stop_never if from_dead_letters else stop_after_attempt(self.max_attempts),
                    wait=wait_exponential_jitter(multiplier=self.retry_initial, jitter=self.retry_initial,
                                                 max=self.retry_max),
                    retry=retry_if_not_exception_type((PermanentError, AlreadyProcessed)),
                    reraise=False,
                ):
                    with attempt:
                        attempts = attempt.retry_state.attempt_number
                        try:
                            await handler(event)
                        except (PermanentError, AlreadyProcessed):
                            raise
                        except Exception as exc:
                            metrics.EVENT_HANDLER_ERRORS.labels(self.service, base_topic).inc()
                            log.warning("event handler failed", attempt=attempts, error=repr(exc))
                            tracing.record_failure(span, exc, attempt=attempts)
                            raise
                outcome = "processed"
            except AlreadyProcessed:
                outcome = "duplicate"
            except PermanentError as exc:
                if from_dead_letters:
                    log.warning("record in a dead-letter topic cannot be handled; left there", error=str(exc))
                    outcome = "unreadable"
                else:
                    await self._dead_letter(record, base_topic, f"permanent: {exc}", attempts=attempts)
                    outcome = "dead_lettered"
            except RetryError as exc:
                error = exc.last_attempt.exception()
                await self._dead_letter(record, base_topic, repr(error), attempts=attempts)
                outcome = "dead_lettered"
            tracing.set_outcome(span, outcome)
        metrics.EVENTS_CONSUMED.labels(self.service, base_topic, outcome).inc()
        metrics.EVENT_HANDLE_SECONDS.labels(self.service, base_topic).observe(time.perf_counter() - started)

    async def _dead_letter(self, record: ConsumerRecord, base_topic: str, error: str, *, attempts: int) -> None:
        headers = [h for h in (record.headers or []) if not h[0].startswith("dlq-")]
        headers += [
            ("dlq-error", error[:2000].encode()),
            ("dlq-attempts", str(attempts).encode()),
            ("dlq-consumer", self.group_id.encode()),
            ("dlq-original-topic", base_topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        target = topics.qualified(topics.dlq(base_topic), self.prefix)
        backoff = 0.5
        while True:  # the offset is not committed until the event is safely parked
            try:
                await self._dlq_producer.send_and_wait(target, value=record.value, key=record.key, headers=headers)
                break
            except Exception as exc:
                log.error("dead-letter publish failed; retrying", error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)
        metrics.DLQ_PUBLISHED.labels(self.service, base_topic).inc()
        log.error("event parked in dead-letter topic", topic=target, error=error, attempts=attempts)
