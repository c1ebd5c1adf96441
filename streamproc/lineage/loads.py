"""The ``_loads`` table: one row per micro-batch load, the lake's own record of lineage.

With each Delta commit's ``custom_metadata`` it is the lineage outbox (DESIGN.md): lineage can be rebuilt from the
lake even when the catalog was down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from streamproc.sources.base import TopicPartition

__all__ = ["LOADS_SCHEMA", "LoadRecord", "OffsetRange"]

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
