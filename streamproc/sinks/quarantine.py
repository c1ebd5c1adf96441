"""The quarantine table ``<table>__quarantine``: every rejected event, its raw payload and every reason.

Nothing is silently dropped (DESIGN.md): a malformed payload, a row discarded by ``discard_row`` and the values
removed by ``discard_value`` all land here with their source coordinates.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from contracts import Rejection
from streamproc.batching.coordinates import Coordinates
from streamproc.records import SourceRecord

__all__ = ["QUARANTINE_SCHEMA", "VIOLATION_TYPE", "quarantine_rows"]

VIOLATION_TYPE = pa.struct(
    [
        pa.field("loc", pa.string()),
        pa.field("type", pa.string()),
        pa.field("message", pa.string()),
        pa.field("entity", pa.string()),
        pa.field("mode", pa.string()),
    ]
)
"""One violation: ``loc`` (dotted field path), ``type``, ``message``, ``entity``, ``mode`` (strings)."""

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("_source", pa.string(), nullable=False),
        pa.field("_topic", pa.string(), nullable=False),
        pa.field("_partition", pa.int32(), nullable=False),
        pa.field("_offset", pa.int64(), nullable=False),
        pa.field("_source_timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("contract_name", pa.string(), nullable=False),
        pa.field("contract_version", pa.int32(), nullable=False),
        pa.field("contract_hash", pa.string(), nullable=False),
        pa.field("disposition", pa.string(), nullable=False),
        pa.field("violations", pa.list_(pa.field("item", VIOLATION_TYPE)), nullable=False),
        pa.field("removed_values", pa.string()),
        pa.field("raw_key", pa.binary()),
        pa.field("raw_payload", pa.binary()),
        pa.field("raw_text", pa.string()),
    ]
)
"""Arrow schema of the quarantine table. ``raw_text`` is the payload decoded as UTF-8 when it is valid UTF-8;
``removed_values`` is a JSON object of the values ``discard_value`` removed; ``disposition`` is ``malformed``,
``row_discarded`` or ``value_discarded``."""


def quarantine_rows(
    rejections: Sequence[Rejection],
    records: Sequence[SourceRecord],
    at: Coordinates,
    *,
    load_id: str,
    ingested_at: dt.datetime,
    source_uris: dict[str, str],
    contract_hash: str,
    redact: Callable[[bytes | None], bytes | None] | None = None,
) -> pa.Table:
    """One quarantine row per rejection, built column by column.

    Args:
        rejections: the rejections, each with every violation.
        records: each rejection's event (e.g. :meth:`MicroBatch.records_at` of their indices), aligned.
        at: the same events' coordinates (:meth:`Coordinates.take`), aligned.
        redact: applied to each raw payload first (the contract's PII policy, :mod:`contracts.pii`): the quarantine
            must not keep what the table may not. ``None`` from it withholds the payload (not redactable).

    Returns:
        ``len(rejections)`` rows with :data:`QUARANTINE_SCHEMA`.
    """
    n = len(rejections)
    if len(records) != n or len(at) != n:
        raise ValueError(f"{n} rejections, {len(records)} records and {len(at)} coordinates: they must align")
    payloads = [redact(r.value) if redact is not None else r.value for r in records]
    columns = {
        "_load_id": pa.array([load_id] * n, pa.string()),
        "_ingested_at": pa.array([ingested_at] * n, QUARANTINE_SCHEMA.field("_ingested_at").type),
        "_source": at.sources(source_uris),
        "_topic": at.topics.cast(pa.string()),
        "_partition": at.partitions,
        "_offset": at.offsets,
        "_source_timestamp": pc.cast(
            pa.array([r.timestamp_ms for r in records], pa.int64()), pa.timestamp("ms", tz="UTC")
        ).cast(QUARANTINE_SCHEMA.field("_source_timestamp").type),
        "contract_name": pa.array([r.contract_name for r in rejections], pa.string()),
        "contract_version": pa.array([r.contract_version for r in rejections], pa.int32()),
        "contract_hash": pa.array([contract_hash] * n, pa.string()),
        "disposition": pa.array([r.disposition for r in rejections], pa.string()),
        "violations": pa.array(
            [[(v.loc, v.type, v.message, v.entity, v.mode) for v in r.violations] for r in rejections],
            QUARANTINE_SCHEMA.field("violations").type,
        ),
        "removed_values": pa.array([json.dumps(r.removed) if r.removed else None for r in rejections], pa.string()),
        "raw_key": pa.array([r.key for r in records], pa.binary()),
        "raw_payload": pa.array(payloads, pa.binary()),
        "raw_text": pa.array([_text(p) for p in payloads], pa.string()),
    }
    return pa.Table.from_arrays([columns[f.name] for f in QUARANTINE_SCHEMA], schema=QUARANTINE_SCHEMA)


def _text(payload: bytes | None) -> str | None:
    if payload is None:
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
