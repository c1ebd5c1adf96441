"""The per-row path over a batch: each event judged by pydantic (:class:`contracts.row.RowJudge`), the events valid
as sent landed through their JSON dump and the decoder (:mod:`contracts.fast.redecode`), the others as
``model_dump`` rows; rejections collected in batch order.

The cyclic garbage collector is paused while a batch is judged (:mod:`contracts.collector`): the dumped rows and
models hold no cycles and reference counting frees them, yet the collector would traverse every live one again and
again as the batch grows (a fifth of the per-row path on nested events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from contracts.collector import collector_paused
from contracts.declare import Contract
from contracts.errors import ContractFrozenError
from contracts.fast.redecode import Redecoder
from contracts.results import Rejection, Violation
from contracts.row import RowJudge, RowVerdict

__all__ = ["PerRow", "judge_rows"]


@dataclass(slots=True)
class PerRow:
    """The per-row path's verdicts on part of a batch.

    Attributes:
        dumped: the rows landed through their JSON dump (the contract's schema), and their events' positions.
        rows: the rows landed as ``model_dump`` dicts (evolved columns, removed values, what the decoder would not
            read), and their events' positions.
        rejected: the rejections, ascending.
    """

    dumped: pa.Table | None = None
    dumped_index: list[int] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_index: list[int] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def judge_rows(
    contract: type[Contract], judge: RowJudge, payloads: Sequence[bytes | None], indices: Iterable[int],
    redecoder: Redecoder | None,
) -> PerRow:
    """Judge the events at ``indices`` (ascending).

    Raises:
        ContractFrozenError: the first event (in batch order) that violates an entity in ``freeze`` mode.
    """
    with collector_paused():
        out = PerRow()
        dumps: list[bytes] = []
        dump_index: list[int] = []
        try:
            for index in indices:
                verdict = judge.judge(payloads[index])
                if verdict.dumped is not None:
                    dumps.append(verdict.dumped)
                    dump_index.append(index)
                else:
                    _take(contract, out, index, verdict)
        finally:  # even for a frozen event: one dumped before it may be frozen too (an int beyond int64)
            if dumps and redecoder is not None:
                _land_dumps(contract, judge, payloads, redecoder, dumps, dump_index, out)
        return out


def _land_dumps(
    contract: type[Contract], judge: RowJudge, payloads: Sequence[bytes | None], redecoder: Redecoder,
    dumps: list[bytes], dump_index: list[int], out: PerRow,
) -> None:
    """The dumped events through the decoder; those it would not read as sent, judged again the Python way."""
    table, again = redecoder.decode(dumps)
    redone = set(again)
    out.dumped = table
    out.dumped_index = [index for i, index in enumerate(dump_index) if i not in redone]
    if not again:
        return
    for i in again:
        _take(contract, out, dump_index[i], judge.judge(payloads[dump_index[i]], dump=False))
    out.rejected.sort(key=lambda rejection: rejection.index)
    order = sorted(range(len(out.row_index)), key=out.row_index.__getitem__)
    out.rows = [out.rows[i] for i in order]
    out.row_index = [out.row_index[i] for i in order]


def _take(contract: type[Contract], out: PerRow, index: int, verdict: RowVerdict) -> None:
    if verdict.disposition is not None:
        info = contract.__contract__
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
        out.rejected.append(rejection)
    if verdict.row is not None:
        out.rows.append(verdict.row)
        out.row_index.append(index)

