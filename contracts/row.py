"""Judging one event on the per-row pydantic path: pydantic's exact errors, classified and resolved by the modes.

Each violation gets an entity (an undeclared key is ``columns``; a wrong, missing or null value is ``data_type``;
a payload that is not a UTF-8 JSON object is ``payload``) and the mode in force at its location. Then:

- ``freeze`` anywhere: the caller stops (dlt's freeze).
- ``evolve``: a new top-level key becomes a new column; a value of another type moves to a variant column and a
  missing or null value lands as null (see :mod:`contracts.evolve`). A constraint violation (range, pattern, length)
  is not a type change: under ``evolve`` it discards the row, and its violation says ``discard_row``.
- ``discard_row``: the event is rejected, to be quarantined.
- ``discard_value``: the offending values are removed (the key omitted, so the field's default applies) if that
  makes the event valid: a nested value where it is (``address.zip``), else the value holding it, up to the
  top-level field; the removed values are quarantined. Otherwise the row is discarded.

The harshest mode of an event's violations decides (freeze > discard_row > discard_value > evolve).
"""

from __future__ import annotations

import copy
import enum
import functools
import json
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import msgspec
from pydantic import ValidationError, create_model
from pydantic_core import PydanticSerializationError

from contracts.declare import Contract
from contracts.discard import discard_values, field_loc
from contracts.dumps import model_converter, overflow_check
from contracts.evolve import (
    NULL_ERRORS,
    RUNTIME_COLUMNS,
    TYPE_ERRORS,
    EvolvedColumn,
    column_value,
    evolvable_fields,
    fits,
    type_name_of,
    variant_name,
)
from contracts.fast.redecode import Redecoder
from contracts.modes import SEVERITY, Entity, ResolvedModes

__all__ = ["RowJudge", "RowVerdict", "classify_malformed"]


@dataclass(slots=True)
class RowVerdict:
    """The fate of one event.

    Attributes:
        row: the landed row (model fields and computed fields, plus evolved columns), or ``None`` if not landed.
        violations: every violation, with entity and mode (empty when the event was valid as sent).
        disposition: ``None`` (landed as sent, possibly with evolved columns), ``value_discarded``,
            ``row_discarded`` or ``malformed``.
        removed: values removed by ``discard_value``, nested as the event spells them (``{"address": {"zip": 7}}``).
        frozen: a violation's mode is ``freeze``.
        dumped: instead of ``row``, for an event valid as sent: pydantic's JSON dump of it, for the decoder to land
            (:mod:`contracts.fast.redecode`).
    """

    row: dict[str, Any] | None
    violations: list[tuple[Any, ...]] = field(default_factory=list)  # Violation's fields, in order
    disposition: str | None = None
    removed: dict[str, Any] = field(default_factory=dict)
    frozen: bool = False
    dumped: bytes | None = None


class RowJudge:
    """Judges events one by one against a contract under resolved modes.

    Args:
        contract: the contract class.
        modes: the modes in force.
        evolved: the evolved columns the table already has (name → column); new ones found while judging are
            added to :attr:`new_columns` (and to ``evolved``).
        redecoder: land events valid as sent through their JSON dump (:attr:`RowVerdict.dumped`).
    """

    def __init__(
        self, contract: type[Contract], modes: ResolvedModes, evolved: dict[str, EvolvedColumn] | None = None,
        *, redecoder: Redecoder | None = None,
    ) -> None:
        self.contract = contract
        self.modes = modes
        self.evolved: dict[str, EvolvedColumn] = dict(evolved or {})
        self.new_columns: list[EvolvedColumn] = []
        self._fields = frozenset(contract.model_fields)
        # a top-level key as an event spells it (an alias) → its field (the column's name)
        # Delta column names are case-insensitive: a new column may not differ from a taken name only by case
        self._taken = {
            name.casefold(): name
            for name in (*contract.model_fields, *contract.model_computed_fields, *RUNTIME_COLUMNS, *self.evolved)
        }
        self._refusal: str | None = None  # why the last violation could not evolve, for its message
        self._choices: dict[str, frozenset[str]] = {}
        self._field_of = {
            spelled: path
            for path, spellings in contract.__contract__.input_paths.items()
            if "." not in path
            for spelled in spellings
        }
        self._evolvable = evolvable_fields(self._fields, modes)
        self._lenient: type[Contract] | None = None
        self._overflows = overflow_check(contract)
        self._convert = model_converter(contract)
        self._redecoder = redecoder

    def judge(self, payload: bytes | None, *, dump: bool = True) -> RowVerdict:
        """The verdict on one raw event (never raises for bad data); ``dump``: an event valid as sent comes back
        as its JSON dump when the judge has a redecoder."""
        try:
            model = self.contract.model_validate_json(payload if payload is not None else b"")
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        else:
            if dump and self._redecoder is not None:
                try:
                    return RowVerdict(None, dumped=self._redecoder.dump(model))
                except PydanticSerializationError:  # e.g. bytes that are not UTF-8: dumped to Python instead
                    pass
            row = model.model_dump()
            overflow = self._overflows(row)
            if not overflow:
                return RowVerdict(self._landed(row))
            return self._resolve(functools.partial(_document, payload), overflow)
        malformed = classify_malformed(payload, errors)
        if malformed is not None:
            return RowVerdict(None, [malformed], "malformed")
        return self._resolve(functools.partial(_document, payload), errors)

    def judge_document(self, document: dict[str, Any]) -> RowVerdict:
        """The verdict on an already parsed event (a JSON object), e.g. after upcasting."""
        try:
            model = self.contract.model_validate(document)
        except ValidationError as exc:
            return self._resolve(document, exc.errors(include_url=False))
        row = model.model_dump()
        overflow = self._overflows(row)
        return self._resolve(document, overflow) if overflow else RowVerdict(self._landed(row))

    def _resolve(self, document: dict[str, Any] | Callable[[], dict[str, Any]], errors: list[Any]) -> RowVerdict:
        """The verdict on an event's violations; ``document`` is the event, or how to parse it: only ``evolve`` and
        ``discard_value`` read its values, a discarded row is never parsed."""
        violations = []
        moves: dict[str, tuple[str, Any] | None] = {}  # top-level key → (evolved column, value), None: to null
        extras: dict[str, Any] = {}  # evolved column → value
        consumed: set[str] = set()  # undeclared keys that went to evolved columns
        for error in errors:
            loc = error["loc"]
            entity: Entity = "columns" if error["type"] == "extra_forbidden" else "data_type"
            if self.modes.fields:
                if len(loc) > 2 and callable(document):  # a union tag may be in the loc: the event tells
                    document = document()
                mode = self.modes.for_loc(field_loc(document, loc) if len(loc) > 2 else loc, entity)
            else:
                mode = self.modes.contract.of(entity)
            message = error["msg"]
            if mode == "evolve":
                if callable(document):
                    document = document()
                self._refusal = None
                if not self._evolve(document, error, entity, moves, extras, consumed):
                    mode = "discard_row"
                    message += f"; {self._refusal}" if self._refusal else ""
            value_type = "missing" if error["type"] == "missing" else _json_type(error.get("input"))
            violations.append((".".join(map(str, loc)), error["type"], message, entity, mode, value_type))
        verdict_modes = [v[4] for v in violations if v[4] != "evolve"]
        frozen = "freeze" in verdict_modes
        harshest = max(verdict_modes, key=SEVERITY.__getitem__) if verdict_modes else "evolve"
        if frozen or harshest == "discard_row":
            return RowVerdict(None, violations, "row_discarded", frozen=frozen)
        if callable(document):
            document = document()
        kept = {k: v for k, v in document.items() if k not in moves and k not in consumed}
        removed: dict[str, Any] = {}
        if harshest == "discard_value":
            discarded = [error["loc"] for error, v in zip(errors, violations, strict=True) if v[4] == "discard_value"]
            outcome = discard_values(kept, discarded, self._lenient_model())
            if outcome is None:
                return RowVerdict(None, violations, "row_discarded")
            model, removed = outcome
        else:
            model = self._validate_lenient(kept)
        if model is None:
            return RowVerdict(None, violations, "row_discarded")
        row = model.model_dump()
        if self._overflows(row):  # a value the table cannot hold is still in the row
            return RowVerdict(None, violations, "row_discarded")
        row = self._landed(row)
        for key, move in moves.items():
            if move is not None:
                row[move[0]] = move[1]
            row[self._field_of.get(key, key)] = None
        row.update(extras)
        if removed:
            return RowVerdict(row, violations, "value_discarded", removed)
        return RowVerdict(row, violations if harshest != "evolve" else [], None)

    def _evolve(
        self,
        document: dict[str, Any],
        error: Any,
        entity: Entity,
        moves: dict[str, tuple[str, Any] | None],
        extras: dict[str, Any],
        consumed: set[str],
    ) -> bool:
        """Apply ``evolve`` to one violation; ``False`` if it cannot evolve (the row is then discarded)."""
        loc = error["loc"]
        key = str(loc[0]) if loc else ""
        if entity == "columns":
            if len(loc) != 1:  # an undeclared key inside a nested model: a struct column cannot grow here
                return False
            value = document.get(key)
            if value is None:
                consumed.add(key)  # dlt: a null creates no column; nothing is lost
                return True
            extra = self._extra(key, value)
            if extra is None:
                return False
            consumed.add(key)
            extras.update(extra)
            return True
        if error["type"] not in TYPE_ERRORS and error["type"] not in NULL_ERRORS:
            return False
        name = self._field_of.get(key, key)  # the column is named after the field, the event may use an alias
        if name not in self._evolvable:
            return False  # a nested field's own override: only top-level columns can take variants
        value = document.get(key)
        if value is None:
            moves.setdefault(key, None)  # missing or null: lands as null
            return True
        if error["type"] in _CHOICE_ERRORS and type_name_of(value) in self._choice_types(name):
            return False  # a value of the right type outside a Literal / Enum: a constraint, not a type change
        column = self._column(variant_name(name, type_name_of(value)), type_name_of(value), "data_type", name)
        if column is None:
            return False
        moves[key] = (column.name, column_value(value, column.type_name))
        return True

    def _choice_types(self, name: str) -> frozenset[str]:
        """dlt's type names of the values a ``Literal`` / ``Enum`` field allows (empty for other fields)."""
        found = self._choices.get(name)
        if found is None:
            allowed = _choices(self.contract.model_fields[name].annotation)
            found = self._choices[name] = frozenset(type_name_of(v) for v in allowed)
        return found

    def _extra(self, key: str, value: Any) -> dict[str, Any] | None:
        """An undeclared key's value: its own evolved column, or a variant of it when the type differs; ``None``
        when it needs a variant but types may not evolve (the row is then discarded)."""
        known = self.evolved.get(key) or self._column(key, type_name_of(value), "columns", None)
        if known is None:
            return None
        if fits(value, known.type_name):
            return {key: column_value(value, known.type_name)}
        if self.modes.for_loc((key,), "data_type") != "evolve":
            return None
        variant = self._column(variant_name(key, type_name_of(value)), type_name_of(value), "data_type", key)
        return {variant.name: column_value(value, variant.type_name)} if variant is not None else None

    def _column(self, name: str, type_name: str, entity: str, variant_of: str | None) -> EvolvedColumn | None:
        """The evolved column ``name``, made if new; ``None`` when a new one would clash with a taken name (Delta
        compares column names case-insensitively; lineage columns are the runtime's)."""
        known = self.evolved.get(name)
        if known is None:
            taken = self._taken.get(name.casefold())
            if taken is not None:
                if taken in RUNTIME_COLUMNS:
                    self._refusal = f"it cannot become a column: {taken!r} is a lineage column"
                elif taken == name:
                    self._refusal = f"it cannot become a column: the contract's field {name!r} has that name"
                else:
                    self._refusal = (
                        f"it cannot become a column: the table has {taken!r} (Delta compares column names ignoring case)"
                    )
                return None
            known = EvolvedColumn(name, type_name, entity, variant_of)  # type: ignore[arg-type]
            self.evolved[name] = known
            self._taken[name.casefold()] = name
            self.new_columns.append(known)
        return known

    def _validate_lenient(self, document: dict[str, Any]) -> Contract | None:
        model = self._lenient_model()
        try:
            return model.model_validate(document)
        except ValidationError:
            return None

    def _lenient_model(self) -> type[Contract]:
        """The contract with its ``data_type: evolve`` fields optional (dlt synthesizes such a lenient model)."""
        if not self._evolvable:
            return self.contract
        if self._lenient is None:
            overrides: dict[str, Any] = {}
            for name in self._evolvable:
                # the field as declared (its alias, constraints, default) but nullable, and null when required
                info = copy.copy(self.contract.model_fields[name])
                info.annotation = Optional[info.annotation]  # noqa: UP007 - a runtime-built annotation
                if info.is_required():
                    info.default = None
                overrides[name] = (info.annotation, info)
            self._lenient = create_model(  # type: ignore[call-overload]
                f"{self.contract.__name__}Lenient", __base__=self.contract, **overrides
            )
        return self._lenient  # type: ignore[return-value]

    def _landed(self, row: dict[str, Any]) -> dict[str, Any]:
        """A dumped row with the values its columns take (:mod:`contracts.dumps`)."""
        return row if self._convert is None else self._convert(row)  # type: ignore[no-any-return]


def _document(payload: bytes | None) -> dict[str, Any]:
    """The event as parsed JSON (pydantic has read it as an object). msgspec first: 3x faster than the standard
    library, same values; what it refuses (NaN, Infinity, numbers beyond float, lone surrogates) the standard
    library reads as pydantic does."""
    try:
        return msgspec.json.decode(payload or b"{}")  # type: ignore[no-any-return]
    except (msgspec.DecodeError, ValueError):
        return json.loads(payload or b"{}")  # type: ignore[no-any-return]


_CHOICE_ERRORS = frozenset({"literal_error", "enum"})


def _choices(annotation: Any) -> list[Any]:
    """The values a ``Literal`` or ``Enum`` annotation allows, through ``Optional``, unions and ``Annotated``."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    origin = get_origin(annotation)
    if origin is Literal:
        return [v.value if isinstance(v, enum.Enum) else v for v in get_args(annotation)]
    if origin is Annotated:
        return _choices(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [value for arg in get_args(annotation) for value in _choices(arg)]
    return []


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def classify_malformed(
    payload: bytes | None, errors: list[Any]
) -> tuple[str, str, str, str, None] | None:
    """A ``payload`` violation when the event is not a UTF-8 JSON object (or a tombstone), else ``None``."""
    if payload is None:
        return ("", "json_invalid", "a null payload (tombstone) is not an event", "payload", None)
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ("", "utf8_invalid", f"payload is not valid UTF-8: {exc}", "payload", None)
    for error in errors:
        if error["type"] == "json_invalid":
            return ("", "json_invalid", error["msg"], "payload", None)
        if error["type"] == "model_type" and not error["loc"]:
            return ("", "not_an_object", "an event must be a JSON object", "payload", None)
    return None
