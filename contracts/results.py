"""What validating a batch hands back: accepted rows, rejections with their violations, evolved columns.

A leaf of the contracts package: it imports nothing else of ``contracts``, so that the modules which produce these
values (:mod:`contracts.validate`, :mod:`contracts.row`) and those which only carry or inspect them
(:mod:`contracts.errors`, :mod:`contracts.threshold`, the runtime) all point to it and never to each other. The
names are importable from ``contracts`` (``Violation``, ``Rejection``, ``ValidationResult``) and from the modules that
used to define them (``contracts.validate``, ``contracts.evolve``, ``contracts.modes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

__all__ = [
    "Disposition",
    "Entity",
    "EvolvedColumn",
    "ModeName",
    "Rejection",
    "TypeName",
    "ValidationResult",
    "Violation",
]

Entity = Literal["tables", "columns", "data_type"]
"""dlt's schema-contract entities."""
ModeName = Literal["evolve", "freeze", "discard_row", "discard_value"]
"""dlt's schema-contract modes."""
Disposition = Literal["row_discarded", "value_discarded", "malformed"]
"""What happened to a rejected event."""
TypeName = Literal["bool", "bigint", "double", "text", "json"]
"""dlt's type names of evolved columns (``json``: objects and arrays, stored as JSON text)."""

_ARROW: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "text": pa.string(),
    "json": pa.string(),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason an event broke its contract.

    Attributes:
        loc: dotted path of the offending field (``items.0.sku``); empty for the whole event.
        type: pydantic's error type (``int_parsing``, ``missing``, ``extra_forbidden``...) or one of
            ``utf8_invalid``, ``json_invalid``, ``not_an_object`` for malformed payloads.
        message: pydantic's human-readable message.
        entity: ``columns``, ``data_type``, ``tables`` or ``payload``.
        mode: the mode that applied to the entity; ``None`` for ``payload``.
        value_type: the JSON type of the offending value (``string``, ``integer``, ``number``, ``boolean``,
            ``null``, ``object``, ``array``; ``missing`` when absent), when one was there to judge.
    """

    loc: str
    type: str
    message: str
    entity: Entity | Literal["payload"]
    mode: ModeName | None
    value_type: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event (or part of one) that did not land as sent.

    Attributes:
        index: the event's position in the validated batch (pair it with its source coordinates).
        contract_name, contract_version: the contract that judged it.
        violations: every violation found, in pydantic's order.
        disposition: ``row_discarded`` (not landed), ``value_discarded`` (landed without the offending values,
            which are listed in ``removed``), or ``malformed`` (not landed).
        removed: the removed values for ``value_discarded``, nested as the event spells them: field → original
            value, or field → the removed part of its object (``{"address": {"zip": 7}}``).
    """

    index: int
    contract_name: str
    contract_version: int
    violations: tuple[Violation, ...]
    disposition: Disposition
    removed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EvolvedColumn:
    """A column the data added to a table (:mod:`contracts.evolve`).

    Attributes:
        name: the column (``coupon`` or ``amount__v_text``).
        type_name: dlt's type name of its values.
        entity: ``columns`` (a new key) or ``data_type`` (a variant column).
        variant_of: for a variant column, the column whose values did not fit.
    """

    name: str
    type_name: TypeName
    entity: Literal["columns", "data_type"]
    variant_of: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.type_name]

    def arrow_field(self) -> pa.Field:
        """A nullable Arrow field with the metadata that marks it evolved."""
        metadata = {"streamproc.evolved": self.type_name, "streamproc.entity": self.entity}
        if self.variant_of:
            metadata["streamproc.variant_of"] = self.variant_of
        return pa.field(self.name, self.arrow_type, nullable=True, metadata=metadata)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdicts on one batch.

    Attributes:
        accepted: the landed rows, with the contract's Arrow schema (:func:`contracts.contract_arrow_schema`).
        accepted_index: for each accepted row, its event's position in the batch (ascending).
        rejected: one :class:`Rejection` per rejected or value-discarded event (ascending index). A
            ``value_discarded`` event is in both ``accepted`` and ``rejected``.
        new_columns: evolved columns this batch added (not among the ``evolved`` passed in), first seen first.
    """

    accepted: pa.Table
    accepted_index: list[int]
    rejected: list[Rejection]
    new_columns: tuple[EvolvedColumn, ...] = ()
