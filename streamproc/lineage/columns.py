"""The lineage columns on every landed row (DESIGN.md, "Lineage columns on every landed row")."""

from __future__ import annotations

import datetime as dt
import pyarrow as pa

from streamproc.batching.coordinates import Coordinates

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
    coordinates: Coordinates,
    *,
    load_id: str,
    ingested_at: dt.datetime,
    source_uris: dict[str, str],
    contract_version: int,
) -> pa.Table:
    """Append the lineage columns to ``rows``; row ``i`` came from the record at ``coordinates`` ``i``.

    Args:
        rows: accepted rows with the contract's schema (n rows).
        coordinates: the n records' source coordinates, aligned with ``rows``.
        source_uris: topic → ``_source`` value (``kafka://host:port/topic``).

    Returns:
        n rows with :func:`with_lineage_schema` of the input schema. Built column-wise (no Python object per row).
    """
    n = rows.num_rows
    columns = {
        "_load_id": pa.repeat(pa.scalar(load_id, pa.string()), n),
        "_ingested_at": pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), n),
        "_source": coordinates.sources(source_uris),
        "_partition": coordinates.partitions,
        "_offset": coordinates.offsets,
        "_contract_version": pa.repeat(pa.scalar(contract_version, pa.int32()), n),
    }
    for lineage_field in LINEAGE_FIELDS:
        rows = rows.append_column(lineage_field, columns[lineage_field.name])
    return rows
