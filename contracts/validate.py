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

import contextlib
import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from contracts.arrow import contract_arrow_schema
from contracts.declare import Contract
from contracts.errors import ContractFrozenError
from contracts.fast import fast_plan
from contracts.evolve import evolvable_fields, with_evolvable_nullable
from contracts.modes import ResolvedModes, resolve_modes
from contracts.results import Disposition, EvolvedColumn, Rejection, ValidationResult, Violation
from contracts.row import RowJudge

__all__ = ["Violation", "Rejection", "Disposition", "ValidationResult", "validate_batch", "accepted_schema"]

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
    judge = RowJudge(contract, modes, dict(evolved or {}))
    plan = fast_plan(contract) if fast or (fast is None and len(payloads) >= FAST_PATH_MIN_EVENTS) else None
    split = plan.split(payloads) if plan is not None else None
    per_row = split.rest if split is not None else range(len(payloads))
    rows, row_index, rejected = _judge_rows(contract, judge, payloads, per_row)
    schema = accepted_schema(contract, modes, [*(evolved or {}).values(), *judge.new_columns])
    accepted_index = row_index
    if split is None or not split.clean_index:
        accepted = pa.Table.from_pylist(rows, schema=schema)
    elif not row_index:  # the usual case: every per-row event rejected; the clean rows are already in order
        accepted = _conformed(split.clean, schema)
        accepted_index = split.clean_index
    else:  # clean events (fast path) and per-row verdicts, back in batch order
        merged = pa.concat_tables([_conformed(split.clean, schema), pa.Table.from_pylist(rows, schema=schema)])
        positions = pa.array(split.clean_index + row_index, pa.int64())
        order = pc.sort_indices(positions)
        accepted = merged.take(order)
        accepted_index = positions.take(order).to_pylist()
    return ValidationResult(
        accepted=accepted, accepted_index=accepted_index, rejected=rejected, new_columns=tuple(judge.new_columns)
    )


def _judge_rows(
    contract: type[Contract], judge: RowJudge, payloads: Sequence[bytes | None], indices: Iterable[int]
) -> tuple[list[dict[str, Any]], list[int], list[Rejection]]:
    """The per-row path over ``indices``: accepted rows with their positions, and rejections (ascending)."""
    with _collector_paused():
        return _judge_each(contract, judge, payloads, indices)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a batch's rows are judged and kept: their dicts and lists (a nested
    event holds dozens) hold no cycles, reference counting frees them, yet the collector would traverse every live
    one again and again as the batch grows (a fifth of the per-row path on nested events). Re-enabled only if it
    was on, so a caller's own ``gc.disable()`` holds; another thread's collections merely wait until the batch is
    judged."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _judge_each(
    contract: type[Contract], judge: RowJudge, payloads: Sequence[bytes | None], indices: Iterable[int]
) -> tuple[list[dict[str, Any]], list[int], list[Rejection]]:
    info = contract.__contract__
    rows: list[dict[str, Any]] = []
    accepted_index: list[int] = []
    rejected: list[Rejection] = []
    for index in indices:
        verdict = judge.judge(payloads[index])
        if verdict.disposition is not None:
            rejection = Rejection(
                index,
                info.name,
                info.version,
                tuple(Violation(*v) for v in verdict.violations),  # type: ignore[arg-type]
                verdict.disposition,  # type: ignore[arg-type]
                verdict.removed,
            )
            if verdict.frozen:
                raise ContractFrozenError(rejection)
            rejected.append(rejection)
        if verdict.row is not None:
            rows.append(verdict.row)
            accepted_index.append(index)
    return rows, accepted_index, rejected


def _conformed(clean: pa.Table, schema: pa.Schema) -> pa.Table:
    """Fast-path rows with the accepted schema: evolvable columns nullable, evolved columns null."""
    if clean.schema.equals(schema, check_metadata=True):
        return clean
    columns = [
        clean.column(f.name).cast(f.type) if f.name in clean.schema.names else pa.nulls(clean.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def accepted_schema(
    contract: type[Contract], modes: ResolvedModes, evolved: Sequence[EvolvedColumn] = ()
) -> pa.Schema:
    """The Arrow schema of accepted rows: the contract's columns (nullable where ``data_type`` may evolve), then
    the evolved columns in the given order."""
    base = with_evolvable_nullable(contract_arrow_schema(contract), evolvable_fields(contract.model_fields, modes))
    return pa.schema([*base, *(c.arrow_field() for c in evolved)])
