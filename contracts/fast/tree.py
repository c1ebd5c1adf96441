"""The compiled tree's Python side: where each field goes, each output array, and the compiled plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from contracts.fast.fallback import RawValue

__all__ = ["Compiled", "Out", "Route", "RouteKind", "null_children"]

RouteKind = Literal["columns", "field", "row"]


@dataclass(frozen=True, slots=True)
class Route:
    """How a field is validated: ``columns``, ``field`` or ``row``, and why when not ``columns``."""

    route: RouteKind
    reason: str = ""


@dataclass(eq=False)
class Out:
    """One output array: its builder in the decoder, its Arrow type and where it sits in the tree.

    Attributes:
        builder: the builder's index.
        kind: the builder's kind (``struct``, ``bool``, ``i32``, ``i64``, ``f64``, ``i128``, ``binary``,
            ``offsets``, ``raw``).
        arrow: the array's Arrow type.
        parent: the enclosing array (``None`` for the event).
        children: a struct's fields, a list's items, a map's entries, the entries' keys and values.
        raw: for ``raw`` builders, how each raw value becomes its landed value.
    """

    builder: int
    kind: str
    arrow: pa.DataType
    parent: Out | None
    children: list[Out] = field(default_factory=list)
    raw: RawValue | None = None


@dataclass
class Compiled:
    """A model's fields compiled: the decoder's root node, its builders, and each field's route."""

    root: dict[str, Any]
    out: Out
    builders: list[tuple[str, list[int]]]
    outs: list[Out]
    routes: dict[str, Route]


def null_children(out: Out) -> list[int]:
    """The builders that get a null slot with this one: a struct's fields (a list's items do not)."""
    return [c.builder for c in out.children] if out.kind == "struct" else []


