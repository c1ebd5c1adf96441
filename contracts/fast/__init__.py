"""The fast validation path: a batch decoded along the compiled contract into Arrow; pydantic only where it must judge.

A contract is compiled (:mod:`contracts.fast.plan`) into a tree the native decoder (``contracts/native/``, Rust:
jiter, pydantic-core's own JSON parser, and the regex crate, pydantic-core's default engine) walks for each event,
checking every value against its field's type and constraints and appending it to that field's Arrow buffers.
An event is **clean** when it is a JSON object with only declared keys, every required key present, every value
exactly of its field's JSON type (an integer for ``int`` — not ``1.0``, not ``"1"``; a string in one of the shapes
pydantic certainly reads the same for datetimes, UUIDs, decimals) and every constraint met. Clean events become Arrow
rows without a Python object per value. Every other event — malformed, an undeclared or missing key, a value
pydantic might coerce or refuse, a duplicate key — leaves no trace in the buffers and goes to the per-row pydantic
path, which gives the exact verdict and errors.

Fields the decoder cannot check are validated per value by pydantic (:mod:`contracts.fast.fallback`); the
contract's computed fields are evaluated per clean event (:mod:`contracts.fast.computed`); only model-level logic
sends the whole contract per row (:func:`coverage` says which route each field takes, and why).

So the fast path only ever *accepts*; it never rejects on its own, and both paths agree on every verdict and every
landed value — ``tests/contracts/test_fast_path.py`` and ``tests/contracts/test_nested_fast_path.py`` check it with
generated events.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from contracts import _native
from contracts.arrow import contract_arrow_schema
from contracts.declare import Contract
from contracts.fast.columns import decode_table
from contracts.fast.computed import ComputedColumns
from contracts.fast.fallback import NotCompiled
from contracts.fast.plan import compile_fields
from contracts.fast.rules import model_refusal
from contracts.fast.tree import Compiled, Route

__all__ = ["CHUNK_EVENTS", "Coverage", "FastPlan", "FastSplit", "Route", "coverage", "fast_plan"]

CHUNK_EVENTS = 10_000
"""At most this many events are decoded at a time: the buffers of one chunk stay in the CPU's caches and bounded
whatever the batch size; chunks' tables are concatenated."""


@dataclass(frozen=True, slots=True)
class FastSplit:
    """A batch split by the fast path.

    Attributes:
        clean: the clean events as Arrow rows (the contract's compiled schema), in batch order.
        clean_index: their positions in the batch.
        rest: positions of the events the per-row path must judge (ascending).
    """

    clean: pa.Table
    clean_index: list[int]
    rest: list[int]


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which route each field of a contract takes.

    Attributes:
        per_row: why the whole contract is validated per row (``None``: it is not).
        routes: dotted field path (``properties.products``) → its :class:`Route` (``columns``: decoded natively;
            ``field``: validated by pydantic per value), for the top-level fields and the nested ones decoded
            natively; computed fields too (``columns``: evaluated on the fast path).
    """

    per_row: str | None
    routes: dict[str, Route] = field(default_factory=dict)

    def route(self, path: str) -> Literal["columns", "field", "row"]:
        """The route of a field (``row`` for every field of a per-row contract).

        Raises:
            KeyError: no such field in the plan.
        """
        return "row" if self.per_row is not None else self.routes[path].route


class FastPlan:
    """A contract compiled for the fast path (see the module docs). Build with :func:`fast_plan`."""

    def __init__(self, contract: type[Contract], compiled: Compiled, computed: ComputedColumns | None) -> None:
        self.contract = contract
        self.schema = contract_arrow_schema(contract)
        self._compiled = compiled
        self._computed = computed
        self._decoder = _native.Decoder(compiled.root, compiled.builders)

    def split(self, payloads: Sequence[bytes | None]) -> FastSplit:
        """Decode and check a batch; the clean events as Arrow rows, the others' positions for the per-row path.

        A batch bigger than :data:`CHUNK_EVENTS` is taken in equal chunks no bigger, their tables concatenated.
        """
        if len(payloads) <= CHUNK_EVENTS:
            return self._split(list(payloads), 0)
        chunks = -(-len(payloads) // CHUNK_EVENTS)
        size = -(-len(payloads) // chunks)  # equal chunks: a small last one would pay the fixed costs for little
        parts = [self._split(list(payloads[start:start + size]), start) for start in range(0, len(payloads), size)]
        return FastSplit(
            pa.concat_tables([part.clean for part in parts]),
            list(itertools.chain.from_iterable(part.clean_index for part in parts)),
            list(itertools.chain.from_iterable(part.rest for part in parts)),
        )

    def _split(self, payloads: list[bytes | None], offset: int) -> FastSplit:
        """:meth:`split` of one chunk whose first event is at ``offset`` in the batch."""
        computed = self._computed.evaluate if self._computed is not None else None
        decoded = decode_table(self._decoder, self._compiled.out, self.schema, payloads, computed)
        return FastSplit(decoded.table, (decoded.landed + offset).tolist(), (decoded.rest + offset).tolist())


_PLANS: weakref.WeakKeyDictionary[type, tuple[FastPlan | None, Coverage]] = weakref.WeakKeyDictionary()


def fast_plan(contract: type[Contract]) -> FastPlan | None:
    """The contract's fast plan, or ``None`` when it must be validated per row (cached; :func:`coverage` says why)."""
    return _plan(contract)[0]


def coverage(contract: type[Contract]) -> Coverage:
    """Which route each of the contract's fields takes (cached)."""
    return _plan(contract)[1]


def _plan(contract: type[Contract]) -> tuple[FastPlan | None, Coverage]:
    if contract not in _PLANS:
        _PLANS[contract] = _compile(contract)
    return _PLANS[contract]


def _compile(contract: type[Contract]) -> tuple[FastPlan | None, Coverage]:
    refusal = model_refusal(contract, computed=False)
    if refusal is not None:
        return None, Coverage(refusal)
    schema = contract_arrow_schema(contract)
    try:
        compiled = compile_fields(contract, schema)
        computed = ComputedColumns(contract, schema) if contract.model_computed_fields else None
    except NotCompiled as exc:
        return None, Coverage(str(exc))
    routes = dict(compiled.routes)
    routes.update({name: Route("columns", "evaluated per clean event") for name in contract.model_computed_fields})
    return FastPlan(contract, compiled, computed), Coverage(None, routes)
