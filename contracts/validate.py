"""Validating a batch of raw events against a contract: accepted rows as Arrow, rejections as data.

Events the fast path (:mod:`contracts.fast`) finds clean become Arrow rows column-wise; the verdict on every other
event comes from the per-row pydantic path (:mod:`contracts.row`), which gives pydantic's exact error for every
violation and applies the modes (field > contract > pipeline config). Malformed payloads (not
UTF-8, not JSON, not an object, tombstones) are always rejected with disposition ``malformed``, whatever the modes:
a contract cannot judge what it cannot read. Under ``freeze`` the first violating event raises
:class:`ContractFrozenError` and nothing of the batch is accepted (dlt's freeze).

Under ``evolve`` accepted rows may carry evolved columns (new keys, variant columns); the result lists the columns
this batch added (:attr:`ValidationResult.new_columns`) so the caller can merge them into the table schema and record
an inferred contract version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from contracts.arrow import contract_arrow_schema
from contracts.declare import Contract
from contracts.evolve import evolvable_fields, with_evolvable_nullable
from contracts.fast import fast_plan
from contracts.fast.redecode import redecoder
from contracts.modes import ResolvedModes, resolve_modes
from contracts.perrow import judge_rows
from contracts.results import Disposition, EvolvedColumn, Rejection, ValidationResult, Violation
from contracts.row import RowJudge

__all__ = [
    "Violation", "Rejection", "Disposition", "ValidationResult", "validate_batch", "accepted_schema", "compile_contract",
]

FAST_PATH_MIN_EVENTS = 8
"""Smaller batches go straight to the per-row path (the fast path's fixed costs would dominate)."""


def validate_batch(
    contract: type[Contract],
    payloads: Sequence[bytes | None],
    *,
    modes: ResolvedModes | None = None,
    evolved: Mapping[str, EvolvedColumn] | None = None,
    fast: bool | None = None,
) -> ValidationResult:
    """Validate raw JSON payloads (one event each) against ``contract``.

    Args:
        contract: the contract class.
        payloads: the raw event bytes, e.g. Kafka record values; ``None`` (a tombstone) is malformed.
        modes: the modes in force (:func:`contracts.modes.resolve_modes`: field > contract > pipeline config);
            default: the contract's own, without a pipeline config.
        evolved: the evolved columns the target table already has (:func:`contracts.evolve.evolved_columns_of`).
        fast: use the fast path (:mod:`contracts.fast`) for the events it finds clean; default: when the contract
            compiles to a fast plan and the batch has at least :data:`FAST_PATH_MIN_EVENTS` events; ``True``:
            whenever the contract compiles; ``False``: per-row pydantic for every event. The verdicts are the
            same either way.

    Returns:
        A :class:`ValidationResult`; ``len(accepted) + (row_discarded + malformed rejections) == len(payloads)``.
        ``accepted`` has :func:`accepted_schema`: the contract's columns (those that may evolve made nullable),
        then the known evolved columns, then the new ones.

    Raises:
        ContractFrozenError: the first event that violates an entity in ``freeze`` mode, with the evidence.
    """
    modes = modes or resolve_modes(contract)
    dumps = redecoder(contract)
    judge = RowJudge(contract, modes, dict(evolved or {}), redecoder=dumps)
    plan = fast_plan(contract) if fast or (fast is None and len(payloads) >= FAST_PATH_MIN_EVENTS) else None
    split = plan.split(payloads) if plan is not None else None
    per_row = judge_rows(contract, judge, payloads, split.rest if split is not None else range(len(payloads)), dumps)
    schema = accepted_schema(contract, modes, [*(evolved or {}).values(), *judge.new_columns])
    parts = [(table, index) for table, index in (
        (split.clean if split is not None else None, split.clean_index if split is not None else []),
        (per_row.dumped, per_row.dumped_index),
    ) if table is not None and index]
    if per_row.rows:
        parts.append((pa.Table.from_pylist(per_row.rows, schema=schema), per_row.row_index))
    if not parts:
        accepted, accepted_index = schema.empty_table(), []
    elif len(parts) == 1:  # the usual case: the clean events alone, already in order
        accepted, accepted_index = _conformed(parts[0][0], schema), parts[0][1]
    else:  # fast path, dumped and Python rows, back in batch order
        merged = pa.concat_tables([_conformed(table, schema) for table, _ in parts])
        positions = pa.array([i for _, index in parts for i in index], pa.int64())
        order = pc.sort_indices(positions)
        accepted = merged.take(order)
        accepted_index = positions.take(order).to_pylist()
    return ValidationResult(
        accepted=accepted, accepted_index=accepted_index, rejected=per_row.rejected,
        new_columns=tuple(judge.new_columns),
    )


def compile_contract(contract: type[Contract]) -> None:
    """Compile what :func:`validate_batch` needs for ``contract`` ahead of its first batch: the fast plan and the
    redecoder (cached per class; ~2-25 ms of CPU for the bench's contracts). Optional: the first batch compiles them
    otherwise."""
    fast_plan(contract)
    redecoder(contract)


def _conformed(clean: pa.Table, schema: pa.Schema) -> pa.Table:
    """Decoded rows with the accepted schema: evolvable columns nullable, evolved columns null."""
    if clean.schema.equals(schema, check_metadata=True):
        return clean
    columns = [_column(clean, f) if f.name in clean.schema.names else pa.nulls(clean.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _column(table: pa.Table, target: pa.Field) -> pa.ChunkedArray:
    """A column as the accepted schema types it; cast only when the type differs (a struct's non-nullable child
    holds nulls under the struct's own nulls, which a cast refuses to view)."""
    column = table.column(target.name)
    return column if column.type.equals(target.type) else column.cast(target.type)


def accepted_schema(
    contract: type[Contract], modes: ResolvedModes, evolved: Sequence[EvolvedColumn] = ()
) -> pa.Schema:
    """The Arrow schema of accepted rows: the contract's columns (nullable where ``data_type`` may evolve), then
    the evolved columns in the given order."""
    base = with_evolvable_nullable(contract_arrow_schema(contract), evolvable_fields(contract.model_fields, modes))
    return pa.schema([*base, *(c.arrow_field() for c in evolved)])
