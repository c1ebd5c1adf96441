"""The ``_loads`` table (one row per micro-batch load, the lake's own record of lineage) and each commit's
``custom_metadata`` describing its load.

Together they are the lineage outbox (DESIGN.md): lineage can be rebuilt from the lake even when the catalog was
down, and a load a crash interrupted between its commits can be recorded from the commits it left
(:func:`streamproc.sinks.txn.record_interrupted_loads`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamproc.records import TopicPartition

__all__ = [
    "LOADS_SCHEMA",
    "METADATA_PREFIX",
    "LoadRecord",
    "OffsetRange",
    "commit_metadata",
    "load_of_commits",
    "offsets_of",
]

METADATA_PREFIX = "streamproc."
"""The prefix of streamproc's keys in a commit's ``custom_metadata``."""

_OFFSET_RANGE = pa.struct(
    [
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("first_offset", pa.int64()),
        pa.field("last_offset", pa.int64()),
    ]
)

LOADS_SCHEMA = pa.schema(
    [
        pa.field("load_id", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("pipeline", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("table_uri", pa.string(), nullable=False),
        pa.field("consumer_group", pa.string(), nullable=False),
        pa.field("contract_name", pa.string(), nullable=False),
        pa.field("contract_version", pa.int32(), nullable=False),
        pa.field("contract_hash", pa.string(), nullable=False),
        pa.field("rows_landed", pa.int64(), nullable=False),
        pa.field("rows_quarantined", pa.int64(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("close_reason", pa.string(), nullable=False),
        pa.field("offsets", pa.list_(pa.field("item", _OFFSET_RANGE)), nullable=False),
        pa.field("delta_version", pa.int64()),
        pa.field("quarantine_delta_version", pa.int64()),
        pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("committed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""Arrow schema of ``_loads``. ``offsets`` lists, per partition, the first and last offset this load covers;
``close_reason`` says which limit closed the micro-batch (``rows``, ``bytes``, ``linger``, ``caught_up``,
``shutdown``); ``delta_version`` is the landed table's version after the load's commit (``None`` if the table was not written)."""


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """The offsets ``first``..``last`` (inclusive) of one partition covered by a load."""

    topic: str
    partition: int
    first: int
    last: int

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class LoadRecord:
    """One load: what was landed and quarantined from which offsets, under which contract, into which version.

    ``rows_landed + rows_quarantined`` can exceed the events covered: a ``discard_value`` event lands and is
    also quarantined (the removed values).
    """

    load_id: str
    run_id: str
    pipeline: str
    table_name: str
    table_uri: str
    consumer_group: str
    contract_name: str
    contract_version: int
    contract_hash: str
    rows_landed: int
    rows_quarantined: int
    bytes: int
    close_reason: str
    offsets: tuple[OffsetRange, ...]
    delta_version: int | None
    quarantine_delta_version: int | None
    started_at: dt.datetime
    committed_at: dt.datetime

    def to_arrow(self) -> pa.Table:
        """This load as one row of :data:`LOADS_SCHEMA`."""
        row = {name: getattr(self, name) for name in LOADS_SCHEMA.names if name != "offsets"}
        row["offsets"] = [
            {"topic": r.topic, "partition": r.partition, "first_offset": r.first, "last_offset": r.last}
            for r in self.offsets
        ]
        return pa.Table.from_pylist([row], schema=LOADS_SCHEMA)


def commit_metadata(load: LoadRecord, ranges: Mapping[TopicPartition, tuple[int, int]]) -> dict[str, str]:
    """The ``custom_metadata`` of each of a load's commits: enough to rebuild its ``_loads`` row.

    ``ranges`` are the batch's offset ranges (first, last) per partition; ``load``'s counts and versions are not
    stored (each commit has its own ``num_added_rows`` and version).
    """
    p = METADATA_PREFIX
    return {
        f"{p}load_id": load.load_id,
        f"{p}run_id": load.run_id,
        f"{p}pipeline": load.pipeline,
        f"{p}consumer_group": load.consumer_group,
        f"{p}table_name": load.table_name,
        f"{p}contract_name": load.contract_name,
        f"{p}contract_version": str(load.contract_version),
        f"{p}contract_hash": load.contract_hash,
        f"{p}close_reason": load.close_reason,
        f"{p}bytes": str(load.bytes),
        f"{p}started_at": load.started_at.isoformat(),
        f"{p}offsets": json.dumps(
            [{"topic": tp.topic, "partition": tp.partition, "first": f, "last": l} for tp, (f, l) in ranges.items()]
        ),
    }


def offsets_of(info: Mapping[str, Any]) -> dict[TopicPartition, tuple[int, int]]:
    """The batch's offset ranges recorded in a commit's ``commitInfo`` (``{}`` for commits streamproc did not make)."""
    raw = info.get(f"{METADATA_PREFIX}offsets")
    if not isinstance(raw, str):
        return {}
    return {TopicPartition(r["topic"], int(r["partition"])): (int(r["first"]), int(r["last"])) for r in json.loads(raw)}


def load_of_commits(
    by_role: Mapping[str, Mapping[str, Any]],
    *,
    offsets: Mapping[TopicPartition, tuple[int, int]],
    table_name: str,
    table_uri: str,
) -> LoadRecord:
    """A load's ``_loads`` row rebuilt from the ``commitInfo`` of its commits (role ``table`` / ``quarantine`` →
    commit): ``rows_landed`` / ``rows_quarantined`` are their ``num_added_rows`` (0 without that commit),
    ``committed_at`` the newest commit's time; ``offsets`` are the ranges the row covers."""
    p = METADATA_PREFIX
    info = next(iter(by_role.values()))
    metrics = {role: c.get("operationMetrics") or {} for role, c in by_role.items()}
    return LoadRecord(
        load_id=info[f"{p}load_id"],
        run_id=info.get(f"{p}run_id", ""),
        pipeline=info.get(f"{p}pipeline", ""),
        table_name=info.get(f"{p}table_name", table_name),
        table_uri=table_uri,
        consumer_group=info.get(f"{p}consumer_group", ""),
        contract_name=info.get(f"{p}contract_name", ""),
        contract_version=int(info.get(f"{p}contract_version", 0)),
        contract_hash=info.get(f"{p}contract_hash", ""),
        rows_landed=int(metrics.get("table", {}).get("num_added_rows", 0)),
        rows_quarantined=int(metrics.get("quarantine", {}).get("num_added_rows", 0)),
        bytes=int(info.get(f"{p}bytes", 0)),
        close_reason=info.get(f"{p}close_reason", "unknown"),
        offsets=tuple(OffsetRange(tp.topic, tp.partition, f, l) for tp, (f, l) in offsets.items()),
        delta_version=by_role["table"]["version"] if "table" in by_role else None,
        quarantine_delta_version=by_role["quarantine"]["version"] if "quarantine" in by_role else None,
        started_at=_parse_time(info.get(f"{p}started_at")),
        committed_at=dt.datetime.fromtimestamp(max(int(c["timestamp"]) for c in by_role.values()) / 1000, dt.UTC),
    )


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(0, dt.UTC)
