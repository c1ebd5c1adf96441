"""The quarantine table ``<table>__quarantine``: every rejected event, its raw payload and every reason.

Nothing is silently dropped (DESIGN.md): a malformed payload, a row discarded by ``discard_row`` and the values
removed by ``discard_value`` all land here with their source coordinates.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

import pyarrow as pa

from contracts import Rejection
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
    record_at: Callable[[int], SourceRecord],
    *,
    load_id: str,
    ingested_at: dt.datetime,
    source_uris: dict[str, str],
    contract_hash: str,
    redact: Callable[[bytes | None], bytes | None] | None = None,
) -> pa.Table:
    """One quarantine row per rejection; ``record_at(rejection.index)`` is its event (e.g. ``MicroBatch.record``).

    Args:
        redact: applied to each raw payload first (the contract's PII policy, :mod:`contracts.pii`): the quarantine
            must not keep what the table may not. ``None`` from it withholds the payload (not redactable).

    Returns:
        ``len(rejections)`` rows with :data:`QUARANTINE_SCHEMA`.
    """
    rows = []
    for rejection in rejections:
        record = record_at(rejection.index)
        payload = redact(record.value) if redact is not None else record.value
        rows.append(
            {
                "_load_id": load_id,
                "_ingested_at": ingested_at,
                "_source": source_uris[record.topic],
                "_topic": record.topic,
                "_partition": record.partition,
                "_offset": record.offset,
                "_source_timestamp": (
                    None if record.timestamp_ms is None else dt.datetime.fromtimestamp(record.timestamp_ms / 1000, dt.UTC)
                ),
                "contract_name": rejection.contract_name,
                "contract_version": rejection.contract_version,
                "contract_hash": contract_hash,
                "disposition": rejection.disposition,
                "violations": [
                    {"loc": v.loc, "type": v.type, "message": v.message, "entity": v.entity, "mode": v.mode}
                    for v in rejection.violations
                ],
                "removed_values": json.dumps(rejection.removed) if rejection.removed else None,
                "raw_key": record.key,
                "raw_payload": payload,
                "raw_text": _text(payload),
            }
        )
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def _text(payload: bytes | None) -> str | None:
    if payload is None:
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
