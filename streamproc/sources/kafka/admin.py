"""What streamproc asks a Kafka cluster besides consuming: creating topics, listing a topic's partitions, a group's
offsets and members (``streamproc replay``, ``positions``, the HTTP source's gateway mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streamproc.errors import ConfigError
from streamproc.records import TopicPartition
from streamproc.sources.kafka.errors import map_kafka_errors

__all__ = ["GroupOffsets", "active_members", "ensure_topic", "group_offsets", "topic_partitions"]


@asynccontextmanager
async def _admin(bootstrap_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    with map_kafka_errors(f"cannot reach the Kafka broker at {bootstrap_servers}"):
        await admin.start()
    try:
        with map_kafka_errors(f"asking the broker at {bootstrap_servers} failed"):
            yield admin
    finally:
        await admin.close()


async def ensure_topic(bootstrap_servers: str, topic: str, *, partitions: int, replication_factor: int = 1) -> bool:
    """Create ``topic`` unless it exists. Returns ``True`` when created.

    Raises:
        SourceUnavailableError: the broker cannot be reached.
    """
    async with _admin(bootstrap_servers) as admin:
        if topic in await admin.list_topics():
            return False
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)])
        except TopicAlreadyExistsError:
            return False
        return True


async def topic_partitions(
    bootstrap_servers: str, topics: Iterable[str], *, missing_ok: bool = False
) -> list[TopicPartition]:
    """Every partition of ``topics``, sorted (a topic that does not exist has none, with ``missing_ok``).

    Raises:
        ConfigError: a topic does not exist (without ``missing_ok``).
        SourceUnavailableError: the broker cannot be reached.
    """
    async with _admin(bootstrap_servers) as admin:
        described = await admin.describe_topics(list(topics))
    partitions = []
    for topic in described:
        if not topic["partitions"] and not missing_ok:
            raise ConfigError(f"topic {topic['topic']!r} does not exist on {bootstrap_servers}")
        partitions += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    return sorted(partitions)


@dataclass(frozen=True, slots=True)
class GroupOffsets:
    """Per partition: the group's committed offset (``None``: none), the log start and the end (high watermark)."""

    committed: dict[TopicPartition, int | None]
    starts: dict[TopicPartition, int]
    ends: dict[TopicPartition, int]


async def group_offsets(bootstrap_servers: str, group: str, partitions: Iterable[TopicPartition]) -> GroupOffsets:
    """The consumer group's committed offsets and the partitions' start and end offsets.

    Raises:
        SourceUnavailableError, SourceError: the broker cannot be reached, or refused.
    """
    wanted = {KafkaTopicPartition(tp.topic, tp.partition): tp for tp in partitions}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    with map_kafka_errors(f"cannot reach the Kafka broker at {bootstrap_servers}"):
        await consumer.start()
    try:
        with map_kafka_errors(f"cannot read the offsets of group {group!r}"):
            ends = await consumer.end_offsets(list(wanted))
            starts = await consumer.beginning_offsets(list(wanted))
            committed = {wanted[ktp]: await consumer.committed(ktp) for ktp in wanted}
    finally:
        await consumer.stop()
    return GroupOffsets(
        committed=committed,
        starts={wanted[k]: v for k, v in starts.items()},
        ends={wanted[k]: v for k, v in ends.items()},
    )


async def active_members(bootstrap_servers: str, group: str) -> int:
    """How many members the consumer group has now (0: none of its consumers is running).

    Raises:
        SourceUnavailableError: the broker cannot be reached.
    """
    async with _admin(bootstrap_servers) as admin:
        responses = await admin.describe_consumer_groups([group])
    return sum(len(g["members"]) for r in responses for g in r.to_object()["groups"])
