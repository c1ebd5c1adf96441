"""The resolutions table ``<quarantine>_resolutions``: what became of each quarantine row a replay took.

Quarantine rows are never deleted nor rewritten. Each replay load (``streamproc quarantine replay``) appends one
resolution per quarantine row it took: ``replayed`` (landed into ``table_name`` by the load ``replay_load_id``,
accepted by ``contract_version``) or ``still_failing`` (with the violations of the contract version that refused
it again). A quarantine row is named by its own ``_load_id`` (here ``quarantine_load_id``) and its source
coordinates ``_topic`` / ``_partition`` / ``_offset``: unique in a quarantine table, and unchanged by compaction.
A row's newest resolution (``resolved_at``, then ``replay_sequence``) is its state; the older ones its history.

Why a table beside the quarantine, not a column of it updated with delta-rs (``DeltaTable.update`` / ``merge``):

- **Concurrent writers.** The running pipeline appends to the quarantine table, and its maintenance compacts it,
  while a replay runs. An update rewrites the files holding the rows it changes (copy-on-write) and conflicts with a
  compaction rewriting the same files, and, reading the table, with appends whose files its predicate may match; the
  replay would lose commit races to the pipeline and rewrite whole files of raw payloads for every load. Appends to a
  table of its own never conflict with the pipeline: the quarantine table keeps one kind of writer.
- **Exactly once.** The resolutions of a replay load are committed with the load's ``txn`` version
  (:mod:`streamproc.sinks.txn`) in one atomic append: they are the replay's own record of which rows it took, read
  back to complete a load a crash interrupted.
- **History.** A row re-checked twice keeps both verdicts (still failing under v2, replayed under v3).
- **No migration.** Existing quarantine tables keep their schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import pyarrow as pa

from contracts.validate import Violation
from streamproc.sinks.quarantine import VIOLATION_TYPE

__all__ = ["KEY_COLUMNS", "RESOLUTIONS_SCHEMA", "Status", "resolution_rows", "with_sequence"]

Status = Literal["replayed", "still_failing"]

KEY_COLUMNS = ("quarantine_load_id", "_topic", "_partition", "_offset")
"""The columns naming a quarantine row (its ``_load_id``, ``_topic``, ``_partition``, ``_offset``)."""

RESOLUTIONS_SCHEMA = pa.schema(
    [
        pa.field("quarantine_load_id", pa.string(), nullable=False),
        pa.field("_topic", pa.string(), nullable=False),
        pa.field("_partition", pa.int32(), nullable=False),
        pa.field("_offset", pa.int64(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("replay_sequence", pa.int64(), nullable=False),
        pa.field("replay_load_id", pa.string(), nullable=False),
        pa.field("replay_run_id", pa.string(), nullable=False),
        pa.field("contract_name", pa.string(), nullable=False),
        pa.field("contract_version", pa.int32(), nullable=False),
        pa.field("contract_hash", pa.string(), nullable=False),
        pa.field("violations", pa.list_(pa.field("item", VIOLATION_TYPE)), nullable=False),
        pa.field("resolved_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""Arrow schema of the resolutions table: the quarantine row's key (:data:`KEY_COLUMNS`), ``status`` (``replayed``
or ``still_failing``), the table it was replayed into or re-checked for, the replay load (its ``txn`` version
``replay_sequence``, load and run ids), the contract version that accepted or refused it, and the violations of that
refusal (for a replayed row: the values ``discard_value`` removed, if any)."""


def resolution_rows(
    keys: Sequence[tuple[str, str, int, int]],
    statuses: Sequence[Status],
    violations: Sequence[Sequence[Violation]],
    *,
    table_name: str,
    load_id: str,
    run_id: str,
    contract: tuple[str, int, str],
    resolved_at: dt.datetime,
    sequence: int = 0,
) -> pa.Table:
    """One resolution per quarantine row ``keys[i]`` (its :data:`KEY_COLUMNS` values), aligned with ``statuses`` and
    ``violations``.

    Args:
        contract: the name, version and schema hash of the contract version that judged the rows.
        sequence: the replay load's ``txn`` version (set later with :func:`with_sequence` when not yet known).

    Returns:
        ``len(keys)`` rows with :data:`RESOLUTIONS_SCHEMA`.

    Raises:
        ValueError: the sequences are not aligned.
    """
    if not len(keys) == len(statuses) == len(violations):
        raise ValueError("keys, statuses and violations must be aligned")
    name, version, schema_hash = contract
    n = len(keys)
    columns = {
        "quarantine_load_id": [k[0] for k in keys],
        "_topic": [k[1] for k in keys],
        "_partition": [k[2] for k in keys],
        "_offset": [k[3] for k in keys],
        "status": list(statuses),
        "table_name": [table_name] * n,
        "replay_sequence": [sequence] * n,
        "replay_load_id": [load_id] * n,
        "replay_run_id": [run_id] * n,
        "contract_name": [name] * n,
        "contract_version": [version] * n,
        "contract_hash": [schema_hash] * n,
        "violations": [
            [{"loc": v.loc, "type": v.type, "message": v.message, "entity": v.entity, "mode": v.mode} for v in each]
            for each in violations
        ],
        "resolved_at": [resolved_at] * n,
    }
    return pa.table(columns, schema=RESOLUTIONS_SCHEMA)


def with_sequence(rows: pa.Table, sequence: int) -> pa.Table:
    """``rows`` with every ``replay_sequence`` set to ``sequence``."""
    at = rows.schema.get_field_index("replay_sequence")
    return rows.set_column(at, rows.schema.field(at), pa.repeat(pa.scalar(sequence, pa.int64()), rows.num_rows))
