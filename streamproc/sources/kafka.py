"""The Kafka source: one aiokafka consumer in a consumer group, positions taken from the Delta log.

Offsets are never auto-committed. On assignment the pipeline says where each partition resumes (the Delta log's
``txn`` versions); partitions it knows nothing of resume from the group's committed offset, else from
``auto_offset_reset``. Offsets are committed to Kafka only after the Delta commit, so that lag tools see true lag.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from streamproc.config import KafkaSourceConfig
from streamproc.errors import SourceError, SourceUnavailableError
from streamproc.sources.base import OnAssigned, OnRevoked, RecordChunk, TopicPartition

__all__ = ["KafkaSource", "kafka_source_uri"]

logger = logging.getLogger(__name__)


def kafka_source_uri(bootstrap_servers: str, topic: str) -> str:
    """``kafka://host:port/topic``: the first bootstrap server and the topic (OpenLineage naming spec's Kafka
    namespace ``kafka://{bootstrap server host}:{port}`` with the topic as the dataset name)."""
    first = bootstrap_servers.split(",")[0].strip()
    return f"kafka://{first}/{topic}"


class _Listener(ConsumerRebalanceListener):
    def __init__(self, source: KafkaSource, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        self._source = source
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Iterable[KafkaTopicPartition]) -> None:
        partitions = {TopicPartition(tp.topic, tp.partition) for tp in revoked}
        if partitions:
            logger.info("partitions revoked: %s", _describe(partitions))
            await self._on_revoked(partitions)

    async def on_partitions_assigned(self, assigned: Iterable[KafkaTopicPartition]) -> None:
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
        logger.info(
            "partitions assigned: %s (from the Delta log: %s)",
            _describe(partitions),
            ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(positions.items()) if o is not None)
            or "none",
        )


class KafkaSource:
    """A consumer-group member reading raw records.

    Lifecycle: :meth:`start` once → :meth:`fetch` / :meth:`commit` → :meth:`stop` (leaves the group). Not reusable.
    """

    def __init__(self, config: KafkaSourceConfig, *, client_id: str) -> None:
        self.config = config
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._stopped = False

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise SourceError("the Kafka source is not started")
        return self._consumer

    @property
    def source_uris(self) -> dict[str, str]:
        """topic → ``kafka://host:port/topic``."""
        return {t: kafka_source_uri(self.config.bootstrap_servers, t) for t in self.config.topics}

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
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset=self.config.auto_offset_reset,
            session_timeout_ms=int(self.config.session_timeout_seconds * 1000),
            group_instance_id=self.config.group_instance_id,
            max_poll_records=self.config.fetch_max_records,
        )
        try:
            await self._consumer.start()
        except KafkaConnectionError as exc:
            self._stopped = True
            raise SourceUnavailableError(
                f"cannot reach the Kafka broker at {self.config.bootstrap_servers}: {exc}"
            ) from exc
        self._consumer.subscribe(list(self.config.topics), listener=_Listener(self, on_assigned, on_revoked))

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The next records of the assigned partitions, a chunk per partition (possibly none within the timeout)."""
        try:
            batches = await self.consumer.getmany(
                timeout_ms=int(timeout_seconds * 1000), max_records=self.config.fetch_max_records
            )
        except KafkaError as exc:
            raise SourceError(f"fetching from Kafka failed: {exc}") from exc
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

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The current end offset (high watermark) of each partition."""
        ends = await self.consumer.end_offsets([KafkaTopicPartition(tp.topic, tp.partition) for tp in partitions])
        return {TopicPartition(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit next-offsets to the group. Called after the Delta commit; a failure is logged, not raised: the
        Delta log is the source of truth and the next commit catches up."""
        owned = self.assignment()
        to_commit = {KafkaTopicPartition(tp.topic, tp.partition): o for tp, o in offsets.items() if tp in owned}
        if not to_commit:
            return
        try:
            await self.consumer.commit(to_commit)
        except KafkaError as exc:
            logger.warning("committing offsets to Kafka failed (the Delta log has them): %s", exc)

    async def stop(self) -> None:
        """Leave the group and close the connections. Idempotent."""
        self._stopped = True
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()


def _describe(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))
