"""A pipeline's positions: where each partition resumes according to the Delta log, beside Kafka's view of the group;
and moving a position (re-land from an offset, skip ahead, or carry positions over to a renamed group).

The Delta log is the source of truth (README, "Exactly once"): each of the table, its quarantine table and ``_loads``
records per partition the last offset it landed, as the version of a ``txn`` action with app id
``<group>/<table>/<topic>/<partition>``; a partition resumes at the lowest of the three + 1. Kafka's committed
offsets only follow, for lag tools. Moving a position is committing an empty append with a new ``txn`` version to all
three tables, the same thing a load does: do it with the pipeline stopped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

import pyarrow as pa
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import DeltaError

from streamproc.config import KafkaSourceConfig, PipelineConfig
from streamproc.errors import ConfigError, SourceUnavailableError, StorageUnavailableError
from streamproc.landing import table_name_of, transaction_app_id
from streamproc.sources.base import TopicPartition

__all__ = ["PartitionPosition", "read_positions", "active_members", "move_position"]

ROLES = ("table", "quarantine", "loads")


@dataclass(frozen=True, slots=True)
class PartitionPosition:
    """One partition of a pipeline, as the Delta log and Kafka see it.

    Attributes:
        topic, partition: the partition.
        table, quarantine, loads: the last offset each table landed (its ``txn`` version), ``None`` if none.
        resume_at: the offset the pipeline resumes from (the lowest of the three + 1), ``None``: the Delta log does not
            know the partition (the group's committed offset, else ``auto_offset_reset``, decides).
        committed: the group's committed Kafka offset (next offset), ``None`` if none.
        end: the partition's end offset (high watermark).
        lag: events in Kafka not yet in the lake (``end - resume_at``; from the log start when unknown).
    """

    topic: str
    partition: int
    table: int | None
    quarantine: int | None
    loads: int | None
    resume_at: int | None
    committed: int | None
    end: int
    lag: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _kafka(config: PipelineConfig) -> KafkaSourceConfig:
    if not isinstance(config.source, KafkaSourceConfig):
        raise ConfigError(f"pipeline {config.name!r}: positions need a Kafka source (this one is {config.source.type})")
    return config.source


def _tables(config: PipelineConfig) -> dict[str, DeltaTable | None]:
    uris = {
        "table": config.sink.table_uri,
        "quarantine": config.sink.resolved_quarantine_uri,
        "loads": config.sink.resolved_loads_uri,
    }
    options = dict(config.sink.storage_options) or None
    try:
        return {
            role: DeltaTable(uri, storage_options=options)
            if DeltaTable.is_deltatable(uri, storage_options=options)
            else None
            for role, uri in uris.items()
        }
    except (OSError, DeltaError) as exc:
        raise StorageUnavailableError(f"cannot read the tables of pipeline {config.name!r}: {exc}") from exc


@asynccontextmanager
async def _admin(source: KafkaSourceConfig) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=source.bootstrap_servers)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise SourceUnavailableError(f"cannot reach the Kafka broker at {source.bootstrap_servers}: {exc}") from exc
    try:
        yield admin
    except KafkaError as exc:
        raise SourceUnavailableError(f"asking the broker at {source.bootstrap_servers} failed: {exc}") from exc
    finally:
        await admin.close()


async def read_positions(config: PipelineConfig) -> list[PartitionPosition]:
    """Every partition of the pipeline's topics: the Delta log's positions, the group's committed offset, the end.

    Raises:
        ConfigError: the source is not Kafka, or a topic does not exist.
        SourceUnavailableError: the broker cannot be reached.
        StorageUnavailableError: a table cannot be read.
    """
    source = _kafka(config)
    tables = _tables(config)
    table_name = table_name_of(config.sink.table_uri)
    async with _admin(source) as admin:
        described = await admin.describe_topics(list(source.topics))
    partitions = []
    for topic in described:
        if not topic["partitions"]:
            raise ConfigError(f"topic {topic['topic']!r} does not exist on {source.bootstrap_servers}")
        partitions += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    partitions.sort()
    kafka_tps = [KafkaTopicPartition(tp.topic, tp.partition) for tp in partitions]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=source.bootstrap_servers, group_id=source.consumer_group, enable_auto_commit=False
    )
    try:
        await consumer.start()
    except KafkaConnectionError as exc:
        raise SourceUnavailableError(f"cannot reach the Kafka broker at {source.bootstrap_servers}: {exc}") from exc
    try:
        ends = await consumer.end_offsets(kafka_tps)
        starts = await consumer.beginning_offsets(kafka_tps)
        committed = {tp: await consumer.committed(tp) for tp in kafka_tps}
    except KafkaError as exc:
        raise SourceUnavailableError(f"cannot read the offsets of group {source.consumer_group!r}: {exc}") from exc
    finally:
        await consumer.stop()
    positions = []
    for tp, ktp in zip(partitions, kafka_tps, strict=True):
        app_id = transaction_app_id(source.consumer_group, table_name, tp)
        landed = {role: t.transaction_version(app_id) if t is not None else None for role, t in tables.items()}
        known = [v for v in landed.values() if v is not None]
        resume_at = min(known) + 1 if known else None  # as Lander.positions: the lowest table decides
        from_offset = resume_at if resume_at is not None else (committed[ktp] or starts[ktp])
        positions.append(
            PartitionPosition(
                tp.topic,
                tp.partition,
                landed["table"],
                landed["quarantine"],
                landed["loads"],
                resume_at,
                committed[ktp],
                ends[ktp],
                max(0, ends[ktp] - from_offset),
            )
        )
    return positions


async def active_members(config: PipelineConfig) -> int:
    """How many members the pipeline's consumer group has now (0: no pipeline of it is running).

    Raises:
        SourceUnavailableError: the broker cannot be reached.
    """
    source = _kafka(config)
    async with _admin(source) as admin:
        responses = await admin.describe_consumer_groups([source.consumer_group])
    return sum(len(group["members"]) for r in responses for group in r.to_object()["groups"])


def move_position(config: PipelineConfig, tp: TopicPartition, next_offset: int, *, group: str | None = None) -> None:
    """Make ``tp`` resume at ``next_offset``: commit ``txn`` version ``next_offset - 1`` to the table, the
    quarantine table and ``_loads`` (an empty append each, ``streamproc.operation = move-position`` in its metadata).

    Rewinding re-lands what follows ``next_offset`` (delete those rows first, or they will be there twice); moving
    ahead skips events for good. ``group`` writes the position under another consumer group's app id (to carry
    positions over to a renamed group). Only with the pipeline stopped: a running member would not see the move
    before its next assignment and could land across it.

    Raises:
        ConfigError: the source is not Kafka, ``next_offset`` is negative, or a table does not exist.
        StorageUnavailableError: a table cannot be written.
    """
    source = _kafka(config)
    if next_offset < 0:
        raise ConfigError(f"the next offset must be 0 or more, not {next_offset}")
    app_id = transaction_app_id(group or source.consumer_group, table_name_of(config.sink.table_uri), tp)
    found = _tables(config)
    tables = {role: table for role, table in found.items() if table is not None}
    if len(tables) != len(ROLES):
        missing = ", ".join(role for role in ROLES if role not in tables)
        raise ConfigError(f"pipeline {config.name!r} has no {missing} table yet: nothing to move")
    metadata = {
        "streamproc.operation": "move-position",
        "streamproc.app_id": app_id,
        "streamproc.next_offset": str(next_offset),
        "streamproc.moved_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    for role in ROLES:
        table = tables[role]
        empty = pa.schema(table.schema().to_arrow()).empty_table()
        try:
            write_deltalake(
                table,
                empty,
                mode="append",
                commit_properties=CommitProperties(
                    app_transactions=[Transaction(app_id=app_id, version=next_offset - 1)], custom_metadata=metadata
                ),
            )
        except (OSError, DeltaError) as exc:
            raise StorageUnavailableError(f"cannot write the position to the {role} table: {exc}") from exc
