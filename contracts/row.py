"""Judging one event on the per-row pydantic path: pydantic's exact errors, classified and resolved by the modes.

Each violation gets an entity (an undeclared key is ``columns``; a wrong, missing or null value is ``data_type``;
a payload that is not a UTF-8 JSON object is ``payload``) and the mode in force at its location. Then:

- ``freeze`` anywhere: the caller stops (dlt's freeze).
- ``evolve``: a new top-level key becomes a new column; a value of another type moves to a variant column and a
  missing or null value lands as null (see :mod:`contracts.evolve`). A constraint violation (range, pattern, length)
  is not a type change: under ``evolve`` it discards the row, and its violation says ``discard_row``.
- ``discard_row``: the event is rejected, to be quarantined.
- ``discard_value``: the offending top-level values are removed (set to null, or the key omitted) if that makes
  the event valid; the removed values are quarantined. Otherwise the row is discarded.

The harshest mode of an event's violations decides (freeze > discard_row > discard_value > evolve).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import weakref
import types
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import pydantic
import msgspec
from pydantic import BaseModel, ValidationError, create_model

from contracts.declare import Contract
from contracts.evolve import (
    NULL_ERRORS,
    TYPE_ERRORS,
    EvolvedColumn,
    column_value,
    evolvable_fields,
    fits,
    type_name_of,
    variant_name,
)
from contracts.modes import SEVERITY, Entity, ResolvedModes

__all__ = ["IntKeys", "RowJudge", "RowVerdict", "classify_malformed", "int64_overflows", "int_keys"]

_INT64 = (-(2**63), 2**63 - 1)


@dataclass(slots=True)
class RowVerdict:
    """The fate of one event.

    Attributes:
        row: the landed row (model fields and computed fields, plus evolved columns), or ``None`` if not landed.
        violations: every violation, with entity and mode (empty when the event was valid as sent).
        disposition: ``None`` (landed as sent, possibly with evolved columns), ``value_discarded``,
            ``row_discarded`` or ``malformed``.
        removed: top-level values removed by ``discard_value`` (field → original value).
        frozen: a violation's mode is ``freeze``.
    """

    row: dict[str, Any] | None
    violations: list[tuple[Any, ...]] = field(default_factory=list)  # Violation's fields, in order
    disposition: str | None = None
    removed: dict[str, Any] = field(default_factory=dict)
    frozen: bool = False


class RowJudge:
    """Judges events one by one against a contract under resolved modes.

    Args:
        contract: the contract class.
        modes: the modes in force.
        evolved: the evolved columns the table already has (name → column); new ones found while judging are
            added to :attr:`new_columns` (and to ``evolved``).
    """

    def __init__(
        self, contract: type[Contract], modes: ResolvedModes, evolved: dict[str, EvolvedColumn] | None = None
    ) -> None:
        self.contract = contract
        self.modes = modes
        self.evolved: dict[str, EvolvedColumn] = dict(evolved or {})
        self.new_columns: list[EvolvedColumn] = []
        self._fields = frozenset(contract.model_fields)
        self._evolvable = evolvable_fields(self._fields, modes)
        self._lenient: type[Contract] | None = None
        self._int_keys = int_keys(contract)

    def judge(self, payload: bytes | None) -> RowVerdict:
        """The verdict on one raw event (never raises for bad data)."""
        try:
            model = self.contract.model_validate_json(payload if payload is not None else b"")
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        else:
            row = self._row(model, {})
            overflow = int64_overflows(row, self._int_keys)
            if not overflow:
                return RowVerdict(row)
            return self._resolve(_document(payload), overflow)
        malformed = classify_malformed(payload, errors)
        if malformed is not None:
            return RowVerdict(None, [malformed], "malformed")
        return self._resolve(_document(payload), errors)

    def judge_document(self, document: dict[str, Any]) -> RowVerdict:
        """The verdict on an already parsed event (a JSON object), e.g. after upcasting."""
        try:
            model = self.contract.model_validate(document)
        except ValidationError as exc:
            return self._resolve(document, exc.errors(include_url=False))
        row = self._row(model, {})
        overflow = int64_overflows(row, self._int_keys)
        return self._resolve(document, overflow) if overflow else RowVerdict(row)

    def _resolve(self, document: dict[str, Any], errors: list[Any]) -> RowVerdict:
        violations = []
        moves: dict[str, tuple[str, Any] | None] = {}  # top-level key → (evolved column, value), None: to null
        extras: dict[str, Any] = {}  # evolved column → value
        consumed: set[str] = set()  # undeclared keys that went to evolved columns
        for error in errors:
            loc = error["loc"]
            entity: Entity = "columns" if error["type"] == "extra_forbidden" else "data_type"
            mode = self.modes.for_loc(loc, entity) if self.modes.fields else self.modes.contract.of(entity)
            if mode == "evolve":
                if not self._evolve(document, error, entity, moves, extras, consumed):
                    mode = "discard_row"
            value_type = "missing" if error["type"] == "missing" else _json_type(error.get("input"))
            violations.append((".".join(map(str, loc)), error["type"], error["msg"], entity, mode, value_type))
        verdict_modes = [v[4] for v in violations if v[4] != "evolve"]
        frozen = "freeze" in verdict_modes
        harshest = max(verdict_modes, key=SEVERITY.__getitem__) if verdict_modes else "evolve"
        if frozen or harshest == "discard_row":
            return RowVerdict(None, violations, "row_discarded", frozen=frozen)
        removed = {}
        if harshest == "discard_value":
            for loc, _type, _message, _entity, mode, *_ in violations:
                key = loc.split(".", 1)[0]
                if mode == "discard_value" and key in document:
                    removed[key] = document[key]
        kept = {k: v for k, v in document.items() if k not in removed and k not in moves and k not in consumed}
        model = self._validate_lenient(kept)
        if model is None:
            return RowVerdict(None, violations, "row_discarded")
        row = self._row(model, {})
        if int64_overflows(row, self._int_keys):  # a value the table cannot hold is still in the row
            return RowVerdict(None, violations, "row_discarded")
        for key, move in moves.items():
            if move is not None:
                row[move[0]] = move[1]
            row[key] = None
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
        if key not in self._evolvable:
            return False  # a nested field's own override: only top-level columns can take variants
        value = document.get(key)
        if value is None:
            moves.setdefault(key, None)  # missing or null: lands as null
            return True
        column = self._column(variant_name(key, type_name_of(value)), type_name_of(value), "data_type", key)
        moves[key] = (column.name, column_value(value, column.type_name))
        return True

    def _extra(self, key: str, value: Any) -> dict[str, Any] | None:
        """An undeclared key's value: its own evolved column, or a variant of it when the type differs; ``None``
        when it needs a variant but types may not evolve (the row is then discarded)."""
        known = self.evolved.get(key)
        if known is None:
            known = self._column(key, type_name_of(value), "columns", None)
        if fits(value, known.type_name):
            return {key: column_value(value, known.type_name)}
        if self.modes.for_loc((key,), "data_type") != "evolve":
            return None
        variant = self._column(variant_name(key, type_name_of(value)), type_name_of(value), "data_type", key)
        return {variant.name: column_value(value, variant.type_name)}

    def _column(self, name: str, type_name: str, entity: str, variant_of: str | None) -> EvolvedColumn:
        known = self.evolved.get(name)
        if known is None:
            known = EvolvedColumn(name, type_name, entity, variant_of)  # type: ignore[arg-type]
            self.evolved[name] = known
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
                info = self.contract.model_fields[name]
                inner = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
                overrides[name] = (Optional[inner], None)  # noqa: UP007 - a runtime-built annotation
            self._lenient = create_model(  # type: ignore[call-overload]
                f"{self.contract.__name__}Lenient", __base__=self.contract, **overrides
            )
        return self._lenient  # type: ignore[return-value]

    def _row(self, model: Contract, extras: dict[str, Any]) -> dict[str, Any]:
        row = model.model_dump(mode="python")
        row.update(extras)
        return row


def _document(payload: bytes | None) -> dict[str, Any]:
    """The event as parsed JSON (pydantic has read it as an object). msgspec first: 3x faster than the standard
    library, same values; what it refuses (NaN, Infinity, numbers beyond float, lone surrogates) the standard
    library reads as pydantic does."""
    try:
        return msgspec.json.decode(payload or b"{}")  # type: ignore[no-any-return]
    except (msgspec.DecodeError, ValueError):
        return json.loads(payload or b"{}")  # type: ignore[no-any-return]


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


@dataclass(frozen=True, slots=True)
class IntKeys:
    """The keys of a contract's dumped rows (``model_dump``, python mode) that can hold an ``int``.

    Attributes:
        scalars: keys whose value is an ``int`` or something that is never one (``None``, another scalar).
        nested: keys whose value may hold ints anywhere inside (nested models, lists, dicts, ``Any``): walked.
    """

    scalars: tuple[str, ...]
    nested: tuple[str, ...]


def int_keys(contract: type[BaseModel]) -> IntKeys | None:
    """Where a contract's dumped rows can hold an ``int``, from its fields' and computed fields' types; ``None``
    when the dump's shape does not follow from the types (serializers, dumps by alias): then walk every value."""
    if contract not in _INT_KEYS:
        _INT_KEYS[contract] = _int_keys(contract)
    return _INT_KEYS[contract]


_INT_KEYS: weakref.WeakKeyDictionary[type, IntKeys | None] = weakref.WeakKeyDictionary()


def _int_keys(contract: type[BaseModel]) -> IntKeys | None:
    decorators = contract.__pydantic_decorators__
    config = contract.model_config
    if (decorators.field_serializers or decorators.model_serializers or config.get("serialize_by_alias")
            or config.get("use_enum_values")):
        return None
    scalars: list[str] = []
    nested: list[str] = []
    types = [(name, info.annotation) for name, info in contract.model_fields.items()]
    types += [(name, info.return_type) for name, info in contract.model_computed_fields.items()]
    for name, annotation in types:
        holds = _holds_int(annotation)
        if holds == "scalar":
            scalars.append(name)
        elif holds == "nested":
            nested.append(name)
    return IntKeys(tuple(scalars), tuple(nested))


# Types whose dumped values are never an int nor hold one (pydantic's own markers included).
_NEVER_INT = (
    str, bytes, float, bool, dt.datetime, dt.date, dt.time, dt.timedelta, decimal.Decimal, uuid.UUID, enum.Enum,
    pydantic.AwareDatetime, pydantic.NaiveDatetime, pydantic.FutureDatetime, pydantic.PastDatetime,
    pydantic.FutureDate, pydantic.PastDate, pydantic.SecretStr, pydantic.SecretBytes,
)


def _holds_int(annotation: Any) -> Literal["no", "scalar", "nested"]:
    """Whether a value of this type, as pydantic dumps it in python mode, is an ``int`` or may hold one inside."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_int(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found = {_holds_int(member) for member in get_args(annotation)}
        return "nested" if "nested" in found else "scalar" if "scalar" in found else "no"
    if origin is Literal:
        return "scalar" if any(type(v) is int for v in get_args(annotation)) else "no"
    if annotation is type(None) or (isinstance(annotation, type) and issubclass(annotation, _NEVER_INT)):
        return "no"  # a float field dumps a float even when the JSON sent an integer; bool and enums are not int
    if annotation is int:
        return "scalar"
    return "nested"  # a model, a container, Any, a custom type: walk its dumped value


def int64_overflows(row: dict[str, Any], keys: IntKeys | None = None) -> list[dict[str, Any]]:
    """Errors (pydantic's shape) for integers an int64 column cannot hold: pydantic's ``int`` is unbounded.

    Args:
        row: a dumped row (``model_dump``, python mode).
        keys: where the row can hold an int (:func:`int_keys`); default: every value is walked.

    Returns:
        One error per overflowing int (``loc``, ``type`` ``int64_overflow``, ``msg``), in the row's key order.
    """
    found: list[dict[str, Any]] = []
    if keys is None:
        for key, value in row.items():
            _walk(value, (key,), found)
        return found
    low, high = _INT64
    for key in keys.scalars:
        value = row.get(key)
        if type(value) is int and not low <= value <= high:
            _walk(value, (key,), found)
    for key in keys.nested:
        _walk(row.get(key), (key,), found)
    if len(found) > 1:  # scalars were checked before nested keys: back to the row's order
        order = {key: position for position, key in enumerate(row)}
        found.sort(key=lambda error: order.get(error["loc"][0], len(order)))
    return found


def _walk(value: Any, loc: tuple[str | int, ...], found: list[dict[str, Any]]) -> None:
    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
        found.append({"loc": loc, "type": "int64_overflow", "msg": "Input should fit a 64-bit integer column"})
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, (*loc, key), found)
    elif isinstance(value, list | tuple | set | frozenset):
        for position, item in enumerate(value):
            _walk(item, (*loc, position), found)


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
