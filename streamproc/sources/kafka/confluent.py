"""The Kafka source on confluent-kafka (librdkafka): ``source.client: confluent-kafka``.

The same protocol as aiokafka's source (:mod:`.consumer`): offsets are never auto-committed or auto-stored; on
assignment the pipeline says where each partition resumes (the Delta log's ``txn`` versions; otherwise the group's
committed offset, else ``auto_offset_reset``); a revocation returns only once the in-flight load is committed;
offsets are committed to Kafka only after the Delta commit. librdkafka fetches, decompresses and parses record
batches in its own threads, outside the GIL: the consuming thread only turns ``Message`` objects into
:class:`~streamproc.records.RecordChunk` columns. With ``cooperative-sticky`` (the default here) a rebalance revokes
only the partitions that move (KIP-429); the others keep landing.

Concurrency contract:

- **One consumer call at a time, never on the event loop.** librdkafka's consumer handle serialises its calls (one
  made while ``consume()`` waits for records waits for it to return). Every call therefore runs in a worker thread
  (``anyio.to_thread``) under this source's own ``CapacityLimiter(1)``: the event loop never blocks on the
  consumer, and at most one worker thread waits on it. A fetch waits for a first record in slices of 10 ms, so an
  offset commit waiting for the consumer gets its turn within 10 ms (:data:`_POLL_SLICE_SECONDS`).
- **Rebalance callbacks reach the pipeline through the event loop.** librdkafka calls ``on_assign`` / ``on_revoke``
  / ``on_lost`` inside ``consume()`` or ``close()``, on that worker thread. They run the pipeline's callbacks
  (:mod:`streamproc.runtime.ownership`: the landing lock, the Delta log's positions) in the event loop with
  ``anyio.from_thread.run`` and block the worker thread until they return; then, still inside the callback, they
  assign the new partitions *at the Delta log's offsets* (``incremental_assign``, or ``assign`` for an eager
  strategy), or unassign the revoked ones. Nothing of a partition is fetched before it is assigned at its offset, so
  aiokafka's pause / seek / resume is one call here.
- **Nothing that holds the landing lock calls the consumer**: a callback waiting for that lock holds the consumer.
  The Kafka offset commit runs after the lock is released (runtime/checkpoint.py), asynchronously
  (``commit(asynchronous=True)``: its outcome is logged by ``on_commit``; ``close()`` waits for it).
- **The pipeline's synchronous questions** (:meth:`assignment`, :meth:`highwater`) are answered from state the
  worker thread keeps (the owned partitions, each partition's high watermark as of the last fetch), never by a
  consumer call.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from confluent_kafka import Consumer, KafkaError, Message
from confluent_kafka import TopicPartition as KafkaTopicPartition

from streamproc.config import KafkaSourceConfig
from streamproc.errors import SourceError
from streamproc.records import RecordChunk, TopicPartition
from streamproc.sources.base import OnAssigned, OnRevoked
from streamproc.sources.kafka.closing import close_consumer
from streamproc.sources.kafka.errors import describe_kafka_error, map_kafka_errors, translate_kafka_error
from streamproc.sources.kafka.member import GroupMember
from streamproc.sources.kafka.messages import chunks_of, consume_available, librdkafka_logger, without_errors
from streamproc.sources.kafka.offsets import start_offsets

__all__ = ["ConfluentKafkaSource", "FETCH_PROPERTIES"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

FETCH_PROPERTIES: dict[str, Any] = {
    "fetch.wait.max.ms": 100,
    "queued.max.messages.kbytes": 16 * 1024,
    "fetch.queue.backoff.ms": 10,
    "max.partition.fetch.bytes": 4 << 20,
}
"""librdkafka's fetch properties streamproc changes (``client_config`` overrides them): a broker answers an idle
fetch within 100 ms instead of 500, so a caught-up member notices new records sooner; at most 16 MiB of fetched
records wait in a partition's queue instead of 64 MiB (~10 MiB less resident); a partition whose queue is full is
fetched again 10 ms later instead of librdkafka's 1 s (``fetch.queue.backoff.ms``: with the 1 s default, a consumer
that drains its queue in milliseconds sat idle most of each second, 2-4x fewer events/s on a quiet machine); fetch
responses of up to 4 MiB per partition instead of 1 (fewer round trips for large events). bench/analysis.md has the
measurements."""

_REQUEST_TIMEOUT_SECONDS = 10.0
"""How long a metadata, watermark or committed-offset request waits for the broker."""

_POLL_SLICE_SECONDS = 0.01
"""The longest one consumer call waits for records: the consumer serves one call at a time, and the offset commit
after each Delta commit waits for the call in progress, on the commit stage's path. Once the pipeline has read
everything the broker has (caught up, or between bursts), each call waits out its whole slice: with 50 ms, the last
loads of a backlog were each held up to 50 ms, a tenth of Kafka → Delta's time on 200,000 orders (bench/analysis.md).
An idle member makes ~100 calls a second, each a thread hop of tens of µs."""


class ConfluentKafkaSource(GroupMember):
    """A consumer-group member reading raw records through confluent-kafka (see the module docstring).

    Lifecycle: :meth:`start` once → :meth:`fetch` / :meth:`commit` → :meth:`stop` (leaves the group, unless a static
    member). Not reusable. The librdkafka consumer inside is replaced by a new one after it reported its partitions
    lost (:meth:`_replace_consumer`).
    """

    def __init__(self, config: KafkaSourceConfig, *, client_id: str) -> None:
        super().__init__(config, client_id=client_id)
        self._consumer: Consumer | None = None
        self._stopped = False
        self._limiter = anyio.CapacityLimiter(1)
        self._cooperative = config.assignment_strategy == "cooperative-sticky"
        self._many_topics = len(config.topics) > 1
        self._on_assigned: OnAssigned | None = None
        self._on_revoked: OnRevoked | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._owned: set[TopicPartition] = set()
        self._assigned_at: dict[TopicPartition, int | None] = {}
        self._highwater: dict[TopicPartition, int] = {}
        self._session_lost = False

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            raise SourceError("the Kafka source is not started")
        return self._consumer

    def properties(self) -> dict[str, Any]:
        """The librdkafka configuration: streamproc's protocol, :data:`FETCH_PROPERTIES`, then ``client_config``."""
        config = self.config
        session_ms = int(config.session_timeout_seconds * 1000)
        properties: dict[str, Any] = {
            "bootstrap.servers": config.bootstrap_servers,
            "group.id": config.consumer_group,
            "client.id": self.client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": config.auto_offset_reset,
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": min(3000, session_ms // 3),
            "partition.assignment.strategy": config.assignment_strategy,
            **FETCH_PROPERTIES,
            **config.client_config,
            "error_cb": _on_error,
            "on_commit": _on_commit,
            "logger": librdkafka_logger,
        }
        if config.group_instance_id:
            properties["group.instance.id"] = config.group_instance_id
        return properties

    async def _call(self, call: Callable[[], _T]) -> _T:
        """Run a consumer call in a worker thread, one at a time (see the module docstring)."""
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def check(self) -> None:
        """Ask the cluster for its metadata (a topic not created yet is fine: named in :attr:`missing_topics`, for the
        join-wait message); the consumer is kept for :meth:`start`.

        Raises:
            SourceUnavailableError: no bootstrap server answered within 10 s.
        """
        if self._stopped or self._on_assigned is not None:
            raise SourceError("a Kafka source is checked before it is started, once")
        if self._consumer is None:
            self._consumer = Consumer(self.properties())
        consumer = self._consumer
        try:
            with map_kafka_errors(f"cannot reach the Kafka broker at {self.config.bootstrap_servers}"):
                metadata = await self._call(functools.partial(consumer.list_topics, timeout=_REQUEST_TIMEOUT_SECONDS))
        except BaseException:
            await self.stop()  # closed, not left to the garbage collector
            raise
        self.missing_topics = [
            topic
            for topic in self.config.topics
            if topic not in metadata.topics or metadata.topics[topic].error is not None
        ]

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        """Subscribe and join the consumer group (the join completes in the first fetches); :meth:`check` first if
        it was not called.

        Raises:
            SourceUnavailableError: no bootstrap server answered.
        """
        if self._stopped or self._on_assigned is not None:
            raise SourceError("a Kafka source can be started once")
        if self._consumer is None:
            await self.check()
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        self._token = anyio.lowlevel.current_token()  # the callbacks reach the event loop from any thread (stop())
        await self._subscribe()
        self.subscribed()

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The next records of the assigned partitions, a chunk per partition run (none within the timeout).

        Raises:
            SourceError: librdkafka reported a fatal error.
        """
        deadline = anyio.current_time() + timeout_seconds
        while True:
            # In slices: between two, an offset commit or a position read waiting for the consumer gets its turn.
            wait = min(_POLL_SLICE_SECONDS, max(0.0, deadline - anyio.current_time()))
            chunks = await self._call(functools.partial(self._consume, wait))
            if chunks or anyio.current_time() >= deadline:
                break
        if self._session_lost:
            await self._replace_consumer()
        self.explain_join_wait()
        return chunks

    async def _subscribe(self) -> None:
        await self._call(
            functools.partial(
                self.consumer.subscribe,
                list(self.config.topics),
                on_assign=self._assign,
                on_revoke=self._revoke,
                on_lost=functools.partial(self._revoke, lost=True),
            )
        )

    async def _replace_consumer(self) -> None:
        """After librdkafka reported the partitions lost (no answer from the group coordinator for a session timeout):
        close this consumer (waiting at most a session timeout) and join again with a new one, from
        ``bootstrap.servers``.

        librdkafka rejoins by itself, unless it forgot every broker: a broker in controlled shutdown, already fenced,
        may answer a metadata request listing no broker (``0 brokers, 1 topics``), and librdkafka then drops every
        broker it knew, bootstrap servers included (confluentinc/librdkafka#5301, open). Unless that drop also counts
        as every broker being down (which starts its re-bootstrap), it has no broker left to ask anything, not even
        its 5-minute metadata refresh, and never reconnects; no property changes that. CI saw it (about 1 run in
        18): ``partitions lost``, then silence. docs/kafka-clients.md has the details.
        """
        self._session_lost = False
        consumer, self._consumer = self._consumer, None
        if consumer is None or self._stopped:
            return
        logger.warning(
            "lost the session in group %s (no answer from its coordinator for %gs): joining again with a new "
            "consumer from %s",
            self.config.consumer_group, self.config.session_timeout_seconds, self.config.bootstrap_servers,
        )

        def abandoned() -> None:
            logger.warning("the previous Kafka consumer did not close within %gs: abandoned",
                           self.config.session_timeout_seconds)

        async with self._limiter:
            with anyio.move_on_after(self.config.session_timeout_seconds):
                try:
                    with map_kafka_errors("closing the previous Kafka consumer failed"):
                        await close_consumer(consumer, on_abandoned=abandoned, token=self._token)
                except SourceError as exc:
                    logger.warning("%s", exc)
            self._session_lost = False  # what the closed consumer still said
            if self._stopped:
                return
            # Still under the limiter: no consumer call queued behind the close finds the source without a consumer.
            self._consumer = Consumer(self.properties())
        self.joined = False  # the join-wait explanation counts from the new subscription
        await self._subscribe()
        self.subscribed()

    def _consume(self, timeout_seconds: float) -> list[RecordChunk]:
        """In the worker thread: one ``consume()``, its messages as chunks, the partitions' high watermarks."""
        consumer = self.consumer
        messages = consume_available(consumer, self.config.fetch_max_records, timeout_seconds)
        if not messages:
            return []
        if any(map(Message.error, messages)):
            messages = without_errors(messages)
            if not messages:
                return []
        chunks = chunks_of(messages, many_topics=self._many_topics)
        for chunk in chunks:
            _, high = consumer.get_watermark_offsets(KafkaTopicPartition(chunk.topic, chunk.partition), cached=True)
            if high >= 0:
                self._highwater[chunk.topic_partition] = high
        return chunks

    def _assign(self, consumer: Consumer, assigned: list[KafkaTopicPartition]) -> None:
        """librdkafka's ``on_assign``, in the worker thread inside ``consume()``: ask the pipeline where each
        partition resumes, then assign them there (cooperative: the added ones; eager: the whole assignment)."""
        self.joined = True
        partitions = {TopicPartition(tp.topic, tp.partition) for tp in assigned}
        if self._on_assigned is None:  # pragma: no cover - subscribe() is called by start(), after they are set
            raise SourceError("the Kafka source is not started")
        # An empty assignment too: a member with nothing to own has joined (observers report it ready).
        positions = (
            anyio.from_thread.run(self._on_assigned, partitions, token=self._token)
            if partitions or not self._owned else {}
        )
        at = start_offsets(consumer, partitions, positions, auto_offset_reset=self.config.auto_offset_reset)
        if self._cooperative:
            consumer.incremental_assign(at)
        else:
            consumer.assign(at)
        self._owned |= partitions
        self._assigned_at.update({tp: positions.get(tp) for tp in partitions})
        if partitions:
            self.log_assigned(partitions, positions)

    def _revoke(self, consumer: Consumer, revoked: list[KafkaTopicPartition], *, lost: bool = False) -> None:
        """librdkafka's ``on_revoke`` / ``on_lost``, in the worker thread inside ``consume()`` or ``close()``: the
        pipeline finishes the in-flight load and drops what it buffered of them, then they are unassigned."""
        partitions = {TopicPartition(tp.topic, tp.partition) for tp in revoked}
        self._session_lost = self._session_lost or (lost and not self._stopped)
        if partitions:
            self.log_revoked(partitions, lost=lost)
            if self._on_revoked is not None:
                anyio.from_thread.run(self._on_revoked, partitions, token=self._token)
        self._owned -= partitions
        for tp in partitions:
            self._assigned_at.pop(tp, None)
            self._highwater.pop(tp, None)
        if self._cooperative:
            consumer.incremental_unassign(revoked)
        else:
            consumer.unassign()

    def assignment(self) -> set[TopicPartition]:
        return set(self._owned)

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record :meth:`fetch` will return for ``tp``.

        Raises:
            SourceUnavailableError, SourceError: the broker cannot be reached, or refused.
        """
        with map_kafka_errors(f"reading the position of {tp.topic}[{tp.partition}] failed"):
            return await self._call(functools.partial(self._position, tp))

    def _position(self, tp: TopicPartition) -> int:
        consumer = self.consumer
        partition = KafkaTopicPartition(tp.topic, tp.partition)
        (consumed,) = consumer.position([partition])
        if consumed.offset >= 0:
            return int(consumed.offset)
        # Nothing consumed since the assignment: where it was assigned, else the committed offset, else the reset.
        if self._assigned_at.get(tp) is not None:
            return int(self._assigned_at[tp])  # type: ignore[arg-type]
        (committed,) = consumer.committed([partition], timeout=_REQUEST_TIMEOUT_SECONDS)
        if committed.offset >= 0:
            return int(committed.offset)
        low, high = consumer.get_watermark_offsets(partition, timeout=_REQUEST_TIMEOUT_SECONDS)
        return int(low if self.config.auto_offset_reset == "earliest" else high)

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's high watermark as of the last fetch that returned its records (no request)."""
        return self._highwater.get(tp)

    async def topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        """Every partition of the subscribed topics (whoever owns it) with its log start and end offsets now.

        Raises:
            SourceUnavailableError, SourceError: the broker cannot be reached, or refused.
        """
        with map_kafka_errors("reading the topics' offsets from Kafka failed"):
            return await self._call(self._topic_offsets)

    def _topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        consumer = self.consumer
        metadata = consumer.list_topics(timeout=_REQUEST_TIMEOUT_SECONDS)
        offsets: dict[TopicPartition, tuple[int, int]] = {}
        for topic in self.config.topics:
            described = metadata.topics.get(topic)
            if described is None or described.error is not None:
                continue  # not created yet: no partition to wait for
            for partition in sorted(described.partitions):
                low, high = consumer.get_watermark_offsets(
                    KafkaTopicPartition(topic, partition), timeout=_REQUEST_TIMEOUT_SECONDS
                )
                offsets[TopicPartition(topic, partition)] = (low, high)
        return offsets

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit next-offsets of the partitions still owned to the group, asynchronously (``on_commit`` logs a
        failure). Called after the Delta commit; a failure is logged, not raised: the Delta log is the source of
        truth and the next commit catches up."""
        owned = self.owned_offsets(offsets, self._owned)
        if not owned or self._consumer is None:
            return
        consumer = self._consumer
        at = [KafkaTopicPartition(tp.topic, tp.partition, o) for tp, o in sorted(owned.items())]
        try:
            with map_kafka_errors("committing offsets to Kafka failed"):
                await self._call(functools.partial(consumer.commit, offsets=at, asynchronous=True))
        except SourceError as exc:
            logger.warning("committing offsets to Kafka failed (the Delta log has them): %s", exc)

    async def stop(self) -> None:
        """Revoke (after the in-flight load), leave the group (a static member stays, see ``group_instance_id``),
        wait for the offset commits in flight, close the connections. Idempotent.

        A deadline around it (the pipeline's shutdown grace period) is honoured even when ``close()`` never returns:
        librdkafka waits for an offset commit in flight for ever if the broker stopped answering
        (confluentinc/librdkafka#3740). ``close()`` therefore runs in a daemon thread of its own; when the deadline
        passes first, this logs that the consumer was abandoned and returns (the Delta log holds the positions, so
        nothing is lost; the group expires the member after its session timeout), and the process can still exit.
        """
        self._stopped = True
        if self._consumer is None:
            return
        consumer, self._consumer = self._consumer, None

        def abandoned() -> None:
            logger.warning(
                "the Kafka consumer did not close in time (an offset commit or the group leave unanswered by %s; "
                "confluentinc/librdkafka#3740): abandoned. What was fetched is landed and the Delta log has the "
                "positions; group %s expires this member after its session timeout (%gs)",
                self.config.bootstrap_servers, self.config.consumer_group, self.config.session_timeout_seconds,
            )

        async with self._limiter:  # the last consumer call: none runs beside it
            try:
                with map_kafka_errors("closing the Kafka consumer failed"):
                    await close_consumer(consumer, on_abandoned=abandoned, token=self._token)
            except SourceError as exc:
                logger.warning("%s", exc)


def _on_error(error: KafkaError) -> None:
    """librdkafka's ``error_cb`` (inside ``consume()``): client-level errors, such as every broker being down, which
    it recovers from by itself (retrying connections); a fatal one surfaces in the next ``consume()``."""
    kind = translate_kafka_error(error)
    librdkafka_logger.warning(
        "Kafka consumer%s: %s", " (retrying)" if kind is not None and kind is not SourceError else "",
        describe_kafka_error(error),
    )


def _on_commit(error: KafkaError | None, partitions: list[KafkaTopicPartition]) -> None:
    """The outcome of an asynchronous offset commit (inside ``consume()`` or ``close()``)."""
    failed = [tp for tp in partitions if tp.error is not None]
    if error is not None or failed:
        reason = describe_kafka_error(error if error is not None else failed[0].error)
        logger.warning("committing offsets to Kafka failed (the Delta log has them): %s", reason)
