"""The Kafka source: one aiokafka consumer in a consumer group, positions taken from the Delta log.

Offsets are never auto-committed. On assignment the pipeline says where each partition resumes (the Delta log's
``txn`` versions); partitions it knows nothing of resume from the group's committed offset, else from
``auto_offset_reset``. Offsets are committed to Kafka only after the Delta commit, so that lag tools see true lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import anyio

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from streamproc.config import KafkaSourceConfig
from streamproc.errors import SourceError
from streamproc.records import RecordChunk, TopicPartition
from streamproc.sources.base import OnAssigned, OnRevoked
from streamproc.sources.kafka.admin import topic_partitions
from streamproc.sources.kafka.errors import OncePer, map_kafka_errors
from streamproc.sources.kafka.member import GroupMember, kafka_source_uri

__all__ = ["KafkaSource", "kafka_source_uri"]

logger = logging.getLogger(__name__)

_ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}

_REPEATING_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.consumer.fetcher", "aiokafka.consumer.group_coordinator")
"""aiokafka's loggers that repeat their lines every retry (0.1 s) while a broker is down (``aiokafka`` is its client's
logger): each distinct line passes once per 30 s (:class:`~streamproc.sources.kafka.errors.OncePer`)."""

_once_per = OncePer()
for _name in _REPEATING_LOGGERS:
    logging.getLogger(_name).addFilter(_once_per)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source: KafkaSource, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        self._source = source
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Iterable[KafkaTopicPartition]) -> None:
        partitions = {TopicPartition(tp.topic, tp.partition) for tp in revoked}
        if partitions:
            self._source.log_revoked(partitions)
            await self._on_revoked(partitions)

    async def on_partitions_assigned(self, assigned: Iterable[KafkaTopicPartition]) -> None:
        self._source.joined = True
        assigned = list(assigned)
        partitions = {TopicPartition(tp.topic, tp.partition) for tp in assigned}
        if not partitions:
            # More members than partitions: this one owns nothing but has joined (observers report it ready).
            await self._on_assigned(set())
            return
        consumer = self._source.consumer
        # aiokafka keeps fetching while this listener awaits: paused, no record of these partitions is returned
        # before the seek to the Delta log's position.
        consumer.pause(*assigned)
        try:
            positions = await self._on_assigned(partitions)
            for tp, offset in positions.items():
                if offset is not None:
                    consumer.seek(KafkaTopicPartition(tp.topic, tp.partition), offset)
        finally:
            consumer.resume(*assigned)
        self._source.log_assigned(partitions, positions)


class KafkaSource(GroupMember):
    """A consumer-group member reading raw records through aiokafka (eager rebalancing: ``range`` or
    ``roundrobin``).

    Lifecycle: :meth:`start` once → :meth:`fetch` / :meth:`commit` → :meth:`stop` (leaves the group). Not reusable.
    """

    def __init__(self, config: KafkaSourceConfig, *, client_id: str) -> None:
        super().__init__(config, client_id=client_id)
        self._consumer: AIOKafkaConsumer | None = None
        self._stopped = False

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise SourceError("the Kafka source is not started")
        return self._consumer

    async def check(self) -> None:
        """Ask the cluster for the subscribed topics' partitions (a topic not yet created is fine).

        Raises:
            SourceUnavailableError: no bootstrap server answered.
        """
        await topic_partitions(self.config.bootstrap_servers, self.config.topics, missing_ok=True)

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        """Connect, subscribe and join the consumer group.

        Raises:
            SourceUnavailableError: no bootstrap server answered.
        """
        if self._consumer is not None or self._stopped:
            raise SourceError("a Kafka source can be started once")
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap_servers,
            group_id=self.config.consumer_group,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset=self.config.auto_offset_reset,
            session_timeout_ms=int(self.config.session_timeout_seconds * 1000),
            group_instance_id=self.config.group_instance_id,
            max_poll_records=self.config.fetch_max_records,
            partition_assignment_strategy=(_ASSIGNORS[self.config.assignment_strategy],),
        )
        try:
            with map_kafka_errors(f"cannot reach the Kafka broker at {self.config.bootstrap_servers}"):
                await self._consumer.start()
        except BaseException:
            await self.stop()  # a consumer that failed to start still holds a client: closed, not left to the GC
            raise
        self._consumer.subscribe(list(self.config.topics), listener=_Listener(self, on_assigned, on_revoked))
        self.subscribed()

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The next records of the assigned partitions, a chunk per partition (possibly none within the timeout)."""
        with map_kafka_errors("fetching from Kafka failed"):
            batches = await self.consumer.getmany(
                timeout_ms=int(timeout_seconds * 1000), max_records=self.config.fetch_max_records
            )
        self.explain_join_wait()
        # A list per attribute, no object per record (aiokafka's records carry ``timestamp`` in milliseconds).
        return [
            RecordChunk.gather(tp.topic, tp.partition, messages, timestamp="timestamp")
            for tp, messages in batches.items()
            if messages
        ]

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(tp.topic, tp.partition) for tp in self.consumer.assignment()}

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record :meth:`fetch` will return for ``tp``."""
        return await self.consumer.position(KafkaTopicPartition(tp.topic, tp.partition))

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's high watermark as of the last fetch response (no request); ``None`` before one."""
        return self.consumer.highwater(KafkaTopicPartition(tp.topic, tp.partition))

    async def topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        """Every partition of the subscribed topics (whoever owns it) with its log start and end offsets now.

        Raises:
            SourceUnavailableError, SourceError: the broker cannot be reached, or refused.
        """
        consumer = self.consumer
        # Asked of the cluster, not of the consumer's metadata: right after subscribing it may not know the topics.
        found = await topic_partitions(self.config.bootstrap_servers, self.config.topics, missing_ok=True)
        partitions = [KafkaTopicPartition(tp.topic, tp.partition) for tp in found]
        if not partitions:
            return {}
        with map_kafka_errors("reading the topics' offsets from Kafka failed"):
            starts = await consumer.beginning_offsets(partitions)
            ends = await consumer.end_offsets(partitions)
        return {TopicPartition(tp.topic, tp.partition): (starts[tp], ends[tp]) for tp in partitions}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit next-offsets to the group. Called after the Delta commit; a failure is logged, not raised: the
        Delta log is the source of truth and the next commit catches up."""
        owned = self.owned_offsets(offsets, self.assignment())
        to_commit = {KafkaTopicPartition(tp.topic, tp.partition): o for tp, o in owned.items()}
        if not to_commit:
            return
        try:
            with map_kafka_errors("committing offsets to Kafka failed"):
                await self.consumer.commit(to_commit)
        except SourceError as exc:
            logger.warning("committing offsets to Kafka failed (the Delta log has them): %s", exc)
        except asyncio.CancelledError:
            # aiokafka sends the request from a task of its own that it shields (GroupCoordinator.commit_offsets):
            # cut short here (the shutdown's grace period, a broker not answering), that task goes on alone, and
            # its failure would end in asyncio's "Task exception was never retrieved" and a traceback. Logged here.
            # Looked for only now: a commit that is not cut short pays nothing for it.
            for task in asyncio.all_tasks():
                if task.get_coro().__qualname__.endswith("_do_commit_offsets"):  # type: ignore[union-attr]
                    task.add_done_callback(_log_abandoned_commit)
            raise

    async def stop(self) -> None:
        """Leave the group and close the connections. Idempotent.

        A deadline around it (the pipeline's shutdown grace period) is honoured: aiokafka's ``stop()`` waits for an
        offset commit in flight until its request times out (40 s) when the broker stopped answering. Cut short, or
        cut by aiokafka itself (below), the consumer's connections are closed here and a warning says the member did
        not leave its group; the deadline's cancellation is then re-raised.
        """
        self._stopped = True
        if self._consumer is None:
            return
        consumer, self._consumer = self._consumer, None
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            ours = task is not None and task.cancelling() > 0  # a deadline around the stop
            # Otherwise aiokafka's: its fetcher cancels its fetch tasks on close and awaits them; one sleeping its
            # retry back-off (the broker is gone) re-raises that cancellation into stop() (aio-libs/aiokafka#647).
            # Either way stop() skipped closing the client's connections.
            with anyio.CancelScope(shield=True):
                logger.warning(
                    "stopped while the Kafka broker at %s was unreachable or not answering: what was fetched is landed "
                    "(the Delta log has the positions), but this member could not leave group %s, so a member started "
                    "before the broker expires its session (%gs) waits for its partitions",
                    self.config.bootstrap_servers, self.config.consumer_group, self.config.session_timeout_seconds,
                )
                await consumer._client.close()  # noqa: SLF001 - the step aiokafka's stop() skipped
            if ours:
                raise


def _log_abandoned_commit(task: asyncio.Task[object]) -> None:
    """The outcome of an offset commit request whose caller was cut short (see :meth:`KafkaSource.commit`)."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("an offset commit cut short failed afterwards (the Delta log has the positions): %s",
                       task.exception())
