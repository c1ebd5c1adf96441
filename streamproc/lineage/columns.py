"""The lineage columns on every landed row (DESIGN.md, "Lineage columns on every landed row")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from streamproc.sources.base import SourceRecord

__all__ = ["LINEAGE_FIELDS", "with_lineage_schema", "append_lineage"]

LINEAGE_FIELDS: tuple[pa.Field, ...] = (
    pa.field("_load_id", pa.string(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_source", pa.string(), nullable=False),
    pa.field("_partition", pa.int32(), nullable=False),
    pa.field("_offset", pa.int64(), nullable=False),
    pa.field("_contract_version", pa.int32(), nullable=False),
)


def with_lineage_schema(contract_schema: pa.Schema) -> pa.Schema:
    """The landed table's schema: the contract's columns, then the lineage columns."""
    return pa.schema(list(contract_schema) + list(LINEAGE_FIELDS))


def append_lineage(
    rows: pa.Table,
    records: Sequence[SourceRecord],
    *,
    load_id: str,
    ingested_at: dt.datetime,
    source_uris: dict[str, str],
    contract_version: int,
) -> pa.Table:
    """Append the lineage columns to ``rows``; ``records[i]`` is the source of row ``i``.

    Args:
        rows: accepted rows with the contract's schema (n rows).
        records: the n source records, aligned with ``rows``.
        source_uris: topic → ``_source`` value (``kafka://host:port/topic``).

    Returns:
        n rows with :func:`with_lineage_schema` of the input schema.
    """
    n = rows.num_rows
    columns = {
        "_load_id": pa.array([load_id] * n, pa.string()),
        "_ingested_at": pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")),
        "_source": pa.array([source_uris[r.topic] for r in records], pa.string()),
        "_partition": pa.array([r.partition for r in records], pa.int32()),
        "_offset": pa.array([r.offset for r in records], pa.int64()),
        "_contract_version": pa.array([contract_version] * n, pa.int32()),
    }
    for lineage_field in LINEAGE_FIELDS:
        rows = rows.append_column(lineage_field, columns[lineage_field.name])
    return rows
