"""The fast validation path: a batch checked column-wise on Arrow data; per-row pydantic only where it must judge.

A contract is compiled into a :class:`FastPlan` (types, nullability, ``Literal`` values, ranges, lengths, string
patterns) when everything it says can be checked that way. Each event is parsed with orjson; its values are gathered
per field and checked with vectorised Arrow compute. An event is **clean** when it is a JSON object with only
declared keys, every value has exactly the JSON type the field expects (``int`` for ``int``, a number for
``float``, a string for ``str``, an ISO 8601 string with a zone for ``datetime``…) and every constraint holds. Clean
events become Arrow rows directly. Every other event — malformed, an undeclared key, a value pydantic might coerce
(``"1"`` for ``int``), a violation — goes to the per-row pydantic path, which gives the exact verdict and errors.

So the fast path only ever *accepts*; it never rejects on its own. Both paths agree on every verdict as long as
each clean event is one pydantic accepts with the same values, which the property test
(``tests/contracts/test_fast_path.py``) checks with generated conforming and violating events.

Not compiled (the per-row path judges every event): custom validators or serializers, computed fields, aliases,
``default_factory``, strictness or string-transforming model config, and field types other than ``bool``, ``int``,
``float``, ``str``, ``Literal`` of strings or integers, ``str`` enums, ``datetime`` (not ``NaiveDatetime``) and
``date``, optionally nullable; constraints other than ``ge``/``gt``/``le``/``lt``, ``min_length``/``max_length`` and ``pattern``.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
import weakref
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from contracts.arrow import contract_arrow_schema
from contracts.declare import Contract, Tag
from contracts.modes import Mode

__all__ = ["FastPlan", "FastSplit", "fast_plan"]

Kind = Literal["bool", "int", "float", "str", "datetime", "date"]
_NONE = type(None)
_JSON_TYPES: dict[str, frozenset[type]] = {
    "bool": frozenset({bool}),
    "int": frozenset({int}),
    "float": frozenset({int, float}),
    "str": frozenset({str}),
    "datetime": frozenset({str}),
    "date": frozenset({str}),
}
_SCALARS: dict[Any, Kind] = {bool: "bool", int: "int", float: "float", str: "str", dt.datetime: "datetime",
                             pydantic.AwareDatetime: "datetime", dt.date: "date"}
# Only what speedate (pydantic's parser) and Arrow read alike: a full date, 'T', a valid clock, a zone.
_DATETIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_DATE = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
_SAFE_CONFIG = {"extra", "frozen", "title", "json_schema_extra", "regex_engine", "defer_build"}
_MISSING = object()
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: Kind
    arrow: pa.DataType
    nullable: bool
    required: bool
    default: Any
    literals: tuple[Any, ...] | None
    bounds: tuple[tuple[str, Any], ...]  # (pc function name that flags a violation, bound)
    min_len: int | None
    max_len: int | None
    pattern: str | None


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


class FastPlan:
    """A contract compiled for column-wise checks (see the module docs). Build with :func:`fast_plan`."""

    def __init__(self, contract: type[Contract], fields: list[_Field]) -> None:
        self.contract = contract
        self.fields = fields
        self.names = frozenset(f.name for f in fields)
        self.schema = contract_arrow_schema(contract)

    def split(self, payloads: typing.Sequence[bytes | None]) -> FastSplit:
        """Parse and check a batch; clean events as Arrow rows, the others' positions for the per-row path."""
        docs: list[dict[str, Any]] = []
        positions: list[int] = []
        rest: list[int] = []
        names = self.names
        for index, payload in enumerate(payloads):
            try:
                document = orjson.loads(payload) if payload is not None else None
            except orjson.JSONDecodeError:
                document = None
            if type(document) is dict and document.keys() <= names:
                docs.append(document)
                positions.append(index)
            else:
                rest.append(index)
        if not docs:
            return FastSplit(self.schema.empty_table(), [], rest)
        bad: set[int] = set()
        arrays = [self._column(f, docs, bad) for f in self.fields]
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        if bad:
            flags = bytearray(len(docs))
            for i in bad:
                flags[i] = 1
            mask = pa.Array.from_buffers(pa.uint8(), len(docs), [None, pa.py_buffer(bytes(flags))])
            keep = pc.equal(mask, 0)
            table = table.filter(keep)
            rest = sorted(rest + [positions[i] for i in bad])
            positions = pc.filter(pa.array(positions, pa.int64()), keep).to_pylist()
        return FastSplit(table, positions, rest)

    def _column(self, f: _Field, docs: list[dict[str, Any]], bad: set[int]) -> pa.Array:
        """The field's Arrow column; positions of values that are not clean are added to ``bad`` (and nulled)."""
        values = [d.get(f.name, _MISSING) for d in docs]
        allowed = _JSON_TYPES[f.kind] | ({_NONE} if f.nullable else frozenset())
        found = set(map(type, values))
        if not found <= allowed:
            kinds = list(map(type, values))
            for odd in found - allowed:
                for i in _positions(kinds, odd):  # list.index scans in C: cost grows with the odd values only
                    if odd is object and not f.required:  # _MISSING: an optional field takes its default
                        values[i] = f.default
                        continue
                    bad.add(i)
                    values[i] = None
        if f.kind == "float" and int in found:
            values = [float(v) if type(v) is int else v for v in values]
        if f.kind == "int":
            try:
                array = pa.array(values, pa.int64())
            except (OverflowError, pa.ArrowInvalid):  # beyond int64: pydantic judges (and Arrow cannot hold it)
                for i, v in enumerate(values):
                    if type(v) is int and not _INT64[0] <= v <= _INT64[1]:
                        bad.add(i)
                        values[i] = None
                array = pa.array(values, pa.int64())
        elif f.kind in ("datetime", "date"):
            array = self._temporal(f, values, bad)
        else:
            array = pa.array(values, f.arrow)
        for check in self._constraints(f, array):
            if pc.any(check).as_py():
                bad.update(pc.indices_nonzero(check).to_pylist())
        return array

    def _temporal(self, f: _Field, values: list[Any], bad: set[int]) -> pa.Array:
        text = pa.array(values, pa.string())
        shaped = pc.match_substring_regex(text, _DATETIME if f.kind == "datetime" else _DATE).fill_null(True)
        if not pc.all(shaped).as_py():
            for i in pc.indices_nonzero(pc.invert(shaped)).to_pylist():
                bad.add(i)
                values[i] = None
            text = pa.array(values, pa.string())
        try:
            return pc.cast(text, f.arrow)
        except pa.ArrowInvalid:  # a well-shaped but impossible date (Feb 30): find it, leave it to pydantic
            parse = dt.datetime.fromisoformat if f.kind == "datetime" else dt.date.fromisoformat
            for i, v in enumerate(values):
                if v is not None:
                    try:
                        parse(v)
                    except ValueError:
                        bad.add(i)
                        values[i] = None
            return pc.cast(pa.array(values, pa.string()), f.arrow)

    @staticmethod
    def _constraints(f: _Field, array: pa.Array) -> list[pa.Array]:
        checks = []
        for function, bound in f.bounds:
            checks.append(getattr(pc, function)(array, pa.scalar(bound)).fill_null(False))
        if f.literals is not None:
            checks.append(pc.invert(pc.is_in(array, value_set=pa.array(f.literals, f.arrow))).fill_null(False))
        if f.min_len is not None or f.max_len is not None:
            length = pc.utf8_length(array)
            if f.min_len is not None:
                checks.append(pc.less(length, f.min_len).fill_null(False))
            if f.max_len is not None:
                checks.append(pc.greater(length, f.max_len).fill_null(False))
        if f.pattern is not None:
            checks.append(pc.invert(pc.match_substring_regex(array, f.pattern)).fill_null(False))
        return checks


def _positions(items: list[Any], target: Any) -> list[int]:
    """Every position of ``target`` in ``items`` (identity or equality, as ``list.index``)."""
    found, start = [], 0
    while True:
        try:
            start = items.index(target, start)
        except ValueError:
            return found
        found.append(start)
        start += 1


_PLANS: weakref.WeakKeyDictionary[type, FastPlan | None] = weakref.WeakKeyDictionary()


def fast_plan(contract: type[Contract]) -> FastPlan | None:
    """The contract's fast plan, or ``None`` when some of what it says cannot be checked column-wise (cached)."""
    if contract not in _PLANS:
        _PLANS[contract] = _compile(contract)
    return _PLANS[contract]


def _compile(contract: type[Contract]) -> FastPlan | None:
    decorators = contract.__pydantic_decorators__
    if any(
        getattr(decorators, kind)
        for kind in ("validators", "field_validators", "root_validators", "model_validators", "field_serializers",
                     "model_serializers", "computed_fields")
    ):
        return None
    config = contract.model_config
    if set(config) - _SAFE_CONFIG or config.get("regex_engine", "rust-regex") != "rust-regex":
        return None
    fields = []
    for name, info in contract.model_fields.items():
        compiled = _compile_field(name, info)
        if compiled is None:
            return None
        fields.append(compiled)
    try:
        for f in fields:  # every pattern must compile for Arrow's RE2 too
            if f.pattern is not None:
                pc.match_substring_regex(pa.array([""]), f.pattern)
    except pa.ArrowInvalid:
        return None
    return FastPlan(contract, fields)


def _compile_field(name: str, info: FieldInfo) -> _Field | None:
    if info.alias not in (None, name) or info.validation_alias is not None or info.default_factory is not None:
        return None
    required = info.is_required()
    default = None if required else info.default
    if isinstance(default, enum.Enum) and isinstance(default, str):
        default = default.value  # a str enum member lands as its value
    if default is not None and type(default) not in (bool, int, float, str):
        return None
    annotation, metadata = info.annotation, list(info.metadata)
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not _NONE]
        if len(members) != 1:
            return None
        nullable, annotation = True, members[0]
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    literals = None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        # only str enums: their members dump as str subclasses, which Arrow stores as the value, as the fast path does
        values = tuple(member.value for member in annotation)
        if not issubclass(annotation, str) or not all(type(v) is str for v in values):
            return None
        literals, annotation = values, str
    if get_origin(annotation) is Literal:
        literals = get_args(annotation)
        kinds = {type(v) for v in literals}
        if kinds not in ({str}, {int}):
            return None
        annotation = kinds.pop()
    kind = _SCALARS.get(annotation)
    if kind is None or (default is not None and kind in ("datetime", "date")):
        return None
    bounds: list[tuple[str, Any]] = []
    min_len = max_len = pattern = None
    for item in metadata:
        if isinstance(item, Tag | Mode):
            continue
        if isinstance(item, at.Ge):
            bounds.append(("less", item.ge))
        elif isinstance(item, at.Gt):
            bounds.append(("less_equal", item.gt))
        elif isinstance(item, at.Le):
            bounds.append(("greater", item.le))
        elif isinstance(item, at.Lt):
            bounds.append(("greater_equal", item.lt))
        elif isinstance(item, at.MinLen) and kind == "str":
            min_len = item.min_length
        elif isinstance(item, at.MaxLen) and kind == "str":
            max_len = item.max_length
        elif type(item).__name__ == "_PydanticGeneralMetadata" and set(vars(item)) == {"pattern"} and kind == "str":
            pattern = item.pattern  # type: ignore[attr-defined]
        else:
            return None
    if bounds and kind not in ("int", "float"):
        return None
    arrow = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string(),
             "datetime": pa.timestamp("us", tz="UTC"), "date": pa.date32()}[kind]
    return _Field(name, kind, arrow, nullable, required, default, literals, tuple(bounds), min_len, max_len, pattern)
