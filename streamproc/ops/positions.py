"""A pipeline's positions: where each partition resumes according to the Delta log, beside Kafka's view of the group;
and moving a position (re-land from an offset, skip ahead, or carry positions over to a renamed group).

The Delta log is the source of truth (docs/exactly-once.md): every table of the pipeline (each route's table and
quarantine table, and ``_loads``) records per partition the last offset it landed, and a partition resumes at the
lowest of them + 1. Kafka's committed offsets only follow, for lag tools. Reading and moving positions is
:mod:`streamproc.sinks.txn`'s (the one home of exactly-once); this module adds the source's view: the broker's
(committed and end offsets), or for a file source its one partition (topic = the file's name, partition 0) and its
event count as the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import anyio

from streamproc.config import FileSourceConfig, KafkaSourceConfig, PipelineConfig
from streamproc.config.resolve import PipelineContracts
from streamproc.errors import ConfigError
from streamproc.sinks.delta import DeltaTableWriter
from streamproc.sinks.txn import RouteTables, landed_versions, move_position as move_txn_position, partition_resume_at
from streamproc.records import TopicPartition
from streamproc.sources.file import count_file_events, file_partition
from streamproc.sources.kafka import admin

__all__ = ["PartitionPosition", "read_positions", "active_members", "move_position", "source_topics"]


@dataclass(frozen=True, slots=True)
class PartitionPosition:
    """One partition of a pipeline, as the Delta log and Kafka see it.

    Attributes:
        topic, partition: the partition.
        table, quarantine, loads: the last offset the pipeline's own table, its quarantine table and ``_loads``
            landed (their ``txn`` versions), ``None`` if none.
        resume_at: the offset the pipeline resumes from (:func:`streamproc.sinks.txn.partition_resume_at`),
            ``None``: the Delta log does not know the partition (the group's committed offset, else ``auto_offset_reset``, decides).
        committed: the group's committed Kafka offset (next offset), ``None`` if none (always, for a file).
        start: the partition's first offset still in the log (Kafka's log start: retention deletes what came
            before; a file's is 0).
        end: the partition's end offset (high watermark; a file's event count, ``None`` when the file is gone).
        lag: events in the source not yet in the lake (``end - resume_at``; from the log start when unknown).
        tables: every table of the pipeline (each route's table and quarantine table, then ``_loads``) by name →
            the last offset it landed.
    """

    topic: str
    partition: int
    table: int | None
    quarantine: int | None
    loads: int | None
    resume_at: int | None
    committed: int | None
    start: int
    end: int | None
    lag: int | None
    tables: dict[str, int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _kafka(config: PipelineConfig) -> KafkaSourceConfig:
    if not isinstance(config.source, KafkaSourceConfig):
        raise ConfigError(f"pipeline {config.name!r}: a consumer group's members need a Kafka source "
                          f"(this one is {config.source.type})")
    return config.source


def _positioned(config: PipelineConfig) -> KafkaSourceConfig | FileSourceConfig:
    if not isinstance(config.source, KafkaSourceConfig | FileSourceConfig):
        raise ConfigError(
            f"pipeline {config.name!r}: positions need a Kafka or file source (this one is {config.source.type}; "
            "an HTTP source's write-ahead log resumes from the Delta log by itself)"
        )
    return config.source


@dataclass(frozen=True, slots=True)
class _SourceView:
    """The source's side of the positions: its partitions, and per partition the committed, first and end offsets."""

    partitions: list[TopicPartition]
    committed: dict[TopicPartition, int | None]
    starts: dict[TopicPartition, int]
    ends: dict[TopicPartition, int | None]


async def _source_view(config: PipelineConfig) -> _SourceView:
    source = _positioned(config)
    if isinstance(source, FileSourceConfig):
        tp = file_partition(source)
        end = await anyio.to_thread.run_sync(count_file_events, source)
        return _SourceView([tp], {tp: None}, {tp: 0}, {tp: end})
    partitions = await admin.topic_partitions(source.bootstrap_servers, source.topics)
    offsets = await admin.group_offsets(source.bootstrap_servers, source.consumer_group, partitions)
    return _SourceView(partitions, dict(offsets.committed), offsets.starts, dict(offsets.ends))


def source_topics(config: PipelineConfig) -> tuple[str, ...]:
    """The topics whose positions the pipeline keeps (a file source: its file's name).

    Raises:
        ConfigError: the source has no positions to show or move (HTTP).
    """
    source = _positioned(config)
    return (file_partition(source).topic,) if isinstance(source, FileSourceConfig) else tuple(source.topics)


class _NoTable:
    """A table that does not exist yet: it has landed nothing."""

    def __init__(self, uri: str, name: str) -> None:
        self.uri, self.name = uri, name

    def refresh(self) -> None:
        pass

    def transaction_version(self, app_id: str) -> int | None:
        return None


def route_tables(config: PipelineConfig, contracts: PipelineContracts, *, require: bool) -> list[RouteTables]:
    """Every route's existing tables (``require``: refuse when one is missing; else a missing one has landed nothing).

    Raises:
        ConfigError: ``require`` and a table does not exist yet.
        StorageUnavailableError: a table cannot be read.
    """
    options = config.sink.storage_options
    group = config.source.consumer_group
    found = []
    missing = []
    for route in contracts.routes:
        sink = route.sink
        tables = []
        for uri, name in (
            (sink.resolved_quarantine_uri, sink.quarantine_name),
            (sink.table_uri, sink.table_name),
            (sink.resolved_loads_uri, "_loads"),
        ):
            writer = DeltaTableWriter.existing(uri, name=name, storage_options=options)
            if writer is None:
                missing.append(name)
            tables.append(writer if writer is not None else _NoTable(uri, name))
        found.append(RouteTables(group, sink.table_name, *tables))  # type: ignore[arg-type]
    if require and missing:
        raise ConfigError(f"pipeline {config.name!r} has no {', '.join(dict.fromkeys(missing))} table yet: nothing to move")
    return found


async def read_positions(config: PipelineConfig, contracts: PipelineContracts) -> list[PartitionPosition]:
    """Every partition of the pipeline's topics: every table's position, the group's committed offset, the end.

    Raises:
        ConfigError: the source is neither Kafka nor a file, or a topic does not exist.
        SourceUnavailableError: the broker cannot be reached.
        StorageUnavailableError: a table cannot be read.
    """
    view = await _source_view(config)
    routes = route_tables(config, contracts, require=False)
    default = routes[0]
    positions = []
    for tp in view.partitions:
        versions = landed_versions(routes, tp)
        resume = partition_resume_at(routes, tp)
        committed, end = view.committed[tp], view.ends[tp]
        from_offset = resume if resume is not None else (committed or view.starts[tp])
        positions.append(
            PartitionPosition(
                tp.topic,
                tp.partition,
                versions[default.table.name],
                versions[default.quarantine.name],
                versions[default.loads.name],
                resume,
                committed,
                view.starts[tp],
                end,
                max(0, end - from_offset) if end is not None else None,
                versions,
            )
        )
    return positions


async def active_members(config: PipelineConfig) -> int:
    """How many members the pipeline's consumer group has now (0: no pipeline of it is running).

    Raises:
        ConfigError: the source is not Kafka.
        SourceUnavailableError: the broker cannot be reached.
    """
    source = _kafka(config)
    return await admin.active_members(source.bootstrap_servers, source.consumer_group)


def move_position(
    config: PipelineConfig,
    contracts: PipelineContracts,
    tp: TopicPartition,
    next_offset: int,
    *,
    group: str | None = None,
) -> None:
    """Make ``tp`` resume at ``next_offset`` in every table of the pipeline (every route's, and ``_loads``): see
    :func:`streamproc.sinks.txn.move_position`.

    Rewinding re-lands what follows ``next_offset`` (delete those rows first, or they will be there twice); moving
    ahead skips events for good. ``group`` writes the position under another consumer group's app ids (to carry
    positions over to a renamed group). Only with the pipeline stopped: a running member would not see the move
    before its next assignment and could land across it.

    Raises:
        ConfigError: the source is neither Kafka nor a file, ``tp`` is not a file source's one partition,
            ``next_offset`` is negative, or a table does not exist.
        StorageUnavailableError: a table cannot be written.
    """
    source = _positioned(config)
    if isinstance(source, FileSourceConfig) and tp != file_partition(source):
        only = file_partition(source)
        raise ConfigError(
            f"a file source has one partition: {only.topic}[{only.partition}] (topic = the file's name, partition 0)"
        )
    if next_offset < 0:
        raise ConfigError(f"the next offset must be 0 or more, not {next_offset}")
    move_txn_position(route_tables(config, contracts, require=True), tp, next_offset, group=group)
