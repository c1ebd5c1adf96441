"""The lineage columns on every landed row (DESIGN.md, "Lineage columns on every landed row")."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

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
    *,
    sources: pa.Array,
    partitions: pa.Array,
    offsets: pa.Array,
    load_id: str,
    ingested_at: dt.datetime,
    contract_version: int,
) -> pa.Table:
    """Append the lineage columns to ``rows``; row ``i`` came from the record at position ``i`` of the coordinate
    arrays (``streamproc.batching.coordinates.Coordinates`` builds them column-wise).

    Args:
        rows: accepted rows with the contract's schema (n rows).
        sources: ``string``, each record's ``_source`` (``kafka://host:port/topic``); partitions: ``int32``;
            offsets: ``int64``; each aligned with ``rows``.

    Returns:
        n rows with :func:`with_lineage_schema` of the input schema. Built column-wise (no Python object per row).
    """
    n = rows.num_rows
    columns = {
        "_load_id": pa.repeat(pa.scalar(load_id, pa.string()), n),
        "_ingested_at": pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), n),
        "_source": sources,
        "_partition": partitions,
        "_offset": offsets,
        "_contract_version": pa.repeat(pa.scalar(contract_version, pa.int32()), n),
    }
    for lineage_field in LINEAGE_FIELDS:
        rows = rows.append_column(lineage_field, columns[lineage_field.name])
    return rows
