"""The fast validation path: a batch checked column-wise on Arrow data; per-row pydantic only where it must judge.

A contract is compiled into a :class:`FastPlan` (types, nullability, ``Literal`` values, ranges, lengths, string
patterns) when everything it says can be checked that way. The plan includes a msgspec ``Struct`` type generated from
the fields: ``bool``, ``int``, ``float`` and ``str`` as themselves, ``Literal`` and str enums as a ``Literal`` of their
values, ``datetime``/``date`` as ``str``, nullable fields as ``T | None``, optional fields with their default,
undeclared keys forbidden. Each event is decoded straight into that Struct (msgspec, in C, without a dict per event:
~0.3 µs for the 8-field orders event against ~1 µs for ``orjson.loads``), the rows become one Arrow struct array (its
children are the columns), and the constraints (bounds, lengths, patterns with Arrow's RE2, ISO 8601 shapes, int64
range) are checked with vectorised Arrow compute. An event is **clean** when msgspec decodes it (a JSON object with only
declared keys, every required key present, every value exactly of the field's JSON type: an integer for ``int`` — not
``1.0``, not ``true`` —, a number for ``float``, ``true``/``false`` for ``bool``, a string for ``str``…) and every
constraint holds. Clean events become Arrow rows directly. Every other event — malformed, an undeclared or missing key,
a value pydantic might coerce (``"1"`` or ``1.0`` for ``int``), ``NaN``/``Infinity`` and numbers beyond float (pydantic
reads them, msgspec refuses), a lone surrogate, a violation — goes to the per-row pydantic path, which gives the exact
verdict and errors.

So the fast path only ever *accepts*; it never rejects on its own. Both paths agree on every verdict as long as
each clean event is one pydantic accepts with the same values, which the property test
(``tests/contracts/test_fast_path.py``) checks with generated conforming and violating events.

Not compiled (the per-row path judges every event): custom validators or serializers, computed fields, aliases,
``default_factory``, strictness or string-transforming model config, and field types other than ``bool``, ``int``,
``float``, ``str``, ``Literal`` of strings or integers, ``str`` enums, ``datetime`` (not ``NaiveDatetime``) and
``date``, optionally nullable; constraints other than ``ge``/``gt``/``le``/``lt``, ``min_length``/``max_length`` and
``pattern``; a default of another type than its field's (pydantic does not validate defaults).
"""

from __future__ import annotations

import datetime as dt
import enum
import gc
import itertools
import operator
import types
import typing
import weakref
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from contracts.arrow import contract_arrow_schema
from contracts.declare import Contract, Tag
from contracts.modes import Mode

__all__ = ["CHUNK_EVENTS", "FastPlan", "FastSplit", "fast_plan"]

Kind = Literal["bool", "int", "float", "str", "datetime", "date"]
_NONE = type(None)
# The JSON type each kind decodes from (msgspec): a datetime or date is its ISO 8601 text, checked and cast in Arrow.
_PYTHON: dict[str, Any] = {"bool": bool, "int": int, "float": float, "str": str, "datetime": str, "date": str}
# msgspec refuses: DecodeError (malformed, wrong type, undeclared or missing key), UnicodeDecodeError (a ValueError:
# bytes that are not UTF-8 inside a string), TypeError (a None payload).
_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {"bool": (bool,), "int": (int,), "float": (float, int), "str": (str,)}
_REFUSED = (msgspec.DecodeError, ValueError, TypeError)
_SCALARS: dict[Any, Kind] = {bool: "bool", int: "int", float: "float", str: "str", dt.datetime: "datetime",
                             pydantic.AwareDatetime: "datetime", dt.date: "date"}
# Only what speedate (pydantic's parser) and Arrow read alike: a full date, 'T', a valid clock, a zone.
_DATETIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_DATE = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
_SAFE_CONFIG = {"extra", "frozen", "title", "json_schema_extra", "regex_engine", "defer_build"}
_INT64 = (-(2**63), 2**63 - 1)

CHUNK_EVENTS = 10_000
"""At most this many events are decoded and turned into columns at a time: a batch's per-event Python objects
(Structs, tuples, strings) stay few and in the CPU's caches (a 40,000-event batch in one go costs ~15 % more per
event on the orders contract) and their memory is bounded whatever the batch size (a 50,000-event orders batch:
peak Python heap 24 → 6 MiB)."""


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
        self.struct = _struct_type(contract.__name__, fields)
        self._decode = msgspec.json.Decoder(self.struct).decode
        # Stands in for an event msgspec refuses, so every column keeps one value per event: all nulls, no type
        # check (a Struct's __init__ checks nothing), filtered out with the other bad rows.
        self._refused = self.struct(**dict.fromkeys(self.struct.__struct_fields__))
        self._getters = [operator.attrgetter(name) for name in self.struct.__struct_fields__]
        self._row_type = pa.struct(
            [(name, pa.string() if f.kind in ("datetime", "date") else f.arrow)
             for name, f in zip(self.struct.__struct_fields__, fields)]
        )

    def split(self, payloads: typing.Sequence[bytes | None]) -> FastSplit:
        """Parse and check a batch; clean events as Arrow rows, the others' positions for the per-row path.

        A batch bigger than :data:`CHUNK_EVENTS` is taken in equal chunks no bigger, their tables concatenated.
        """
        if len(payloads) <= CHUNK_EVENTS:
            return self._split(payloads, 0)
        chunks = -(-len(payloads) // CHUNK_EVENTS)
        size = -(-len(payloads) // chunks)  # equal chunks: a small last one would pay the fixed costs for little
        events = iter(payloads)
        parts = [self._split(itertools.islice(events, size), start) for start in range(0, len(payloads), size)]
        return FastSplit(
            pa.concat_tables([part.clean for part in parts]),
            list(itertools.chain.from_iterable(part.clean_index for part in parts)),
            list(itertools.chain.from_iterable(part.rest for part in parts)),
        )

    def _split(self, payloads: typing.Iterable[bytes | None], offset: int) -> FastSplit:
        """:meth:`split` of one chunk whose first event is at ``offset`` in the batch."""
        structs: list[Any] = []
        append = structs.append
        decode = self._decode
        refused = self._refused
        bad: set[int] = set()
        for payload in payloads:
            try:
                append(decode(payload))  # type: ignore[arg-type]
            except _REFUSED:  # malformed, another JSON type, an undeclared or missing key, None: pydantic judges
                bad.add(len(structs))
                append(refused)
        if len(bad) == len(structs):
            return FastSplit(self.schema.empty_table(), [], list(range(offset, offset + len(structs))))
        arrays = []
        for f, raw in zip(self.fields, self._raw_columns(structs, bad)):
            array = self._temporal(f, raw, bad) if f.kind in ("datetime", "date") else raw
            for check in self._constraints(f, array):
                if pc.any(check).as_py():
                    bad.update(pc.indices_nonzero(check).to_pylist())
            arrays.append(array)
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        if not bad:
            return FastSplit(table, list(range(offset, offset + len(structs))), [])
        flags = bytearray(len(structs))
        for i in bad:
            flags[i] = 1
        mask = pa.Array.from_buffers(pa.uint8(), len(structs), [None, pa.py_buffer(bytes(flags))])
        keep = pc.equal(mask, 0)
        clean_index = pc.add(pc.indices_nonzero(keep), offset).to_pylist()
        return FastSplit(table.filter(keep), clean_index, [offset + i for i in sorted(bad)])

    def _raw_columns(self, structs: list[Any], bad: set[int]) -> list[pa.Array]:
        """One Arrow array per field from the decoded events (temporal fields still as text)."""
        collecting = gc.isenabled()
        try:
            # Rows as tuples into one struct array, split into its children: cheaper than gathering field by field.
            # The tuples hold only scalars, yet the collector would track each and run ~15 times per 10,000 rows
            # (a third of this step). Paused for this call only; re-enabled only if it was on, so a caller's own
            # gc.disable() holds; another thread's collections merely wait until the call returns.
            gc.disable()
            return pa.array(list(map(msgspec.structs.astuple, structs)), self._row_type).flatten()
        except (OverflowError, pa.ArrowInvalid):  # an int beyond int64: pydantic judges (and Arrow cannot hold it)
            pass
        finally:
            if collecting:
                gc.enable()
        columns = []
        for f, get in zip(self.fields, self._getters):
            values = list(map(get, structs))
            if f.kind == "int":
                for i, v in enumerate(values):
                    if v is not None and not _INT64[0] <= v <= _INT64[1]:
                        bad.add(i)
                        values[i] = None
            columns.append(pa.array(values, self._row_type.field(len(columns)).type))
        return columns

    @staticmethod
    def _temporal(f: _Field, text: pa.Array, bad: set[int]) -> pa.Array:
        """ISO 8601 text to the field's Arrow type; text speedate and Arrow might read differently is ``bad``."""
        shaped = pc.match_substring_regex(text, _DATETIME if f.kind == "datetime" else _DATE).fill_null(True)
        if not pc.all(shaped).as_py():
            bad.update(pc.indices_nonzero(pc.invert(shaped)).to_pylist())
            text = pc.if_else(shaped, text, pa.scalar(None, pa.string()))
        try:
            return pc.cast(text, f.arrow)
        except pa.ArrowInvalid:  # a well-shaped but impossible date (Feb 30): find it, leave it to pydantic
            parse = dt.datetime.fromisoformat if f.kind == "datetime" else dt.date.fromisoformat
            values = text.to_pylist()
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
        if f.min_len is not None or f.max_len is not None:
            length = pc.utf8_length(array)
            if f.min_len is not None:
                checks.append(pc.less(length, f.min_len).fill_null(False))
            if f.max_len is not None:
                checks.append(pc.greater(length, f.max_len).fill_null(False))
        if f.pattern is not None:
            checks.append(pc.invert(pc.match_substring_regex(array, f.pattern)).fill_null(False))
        return checks


def _struct_type(name: str, fields: list[_Field]) -> type[msgspec.Struct]:
    """The msgspec Struct an event decodes into: one attribute per field (``f0``, ``f1``… renamed to the JSON keys, so
    that any key is safe for ``attrgetter``), of the field's JSON type, with its default when optional; an
    undeclared key is refused. ``gc=False``: the values are scalars, never a cycle, so the collector need not track
    a batch's thousands of instances."""
    spec: list[Any] = []
    for position, f in enumerate(fields):
        python = Literal[f.literals] if f.literals is not None else _PYTHON[f.kind]  # msgspec: exact values only
        python = python | None if f.nullable else python
        spec.append((f"f{position}", python) if f.required else (f"f{position}", python, f.default))
    rename = {f"f{position}": f.name for position, f in enumerate(fields)}
    return msgspec.defstruct(
        f"{name}Fast", spec, kw_only=True, forbid_unknown_fields=True, rename=rename, gc=False, module=__name__
    )


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
    if default is not None and type(default) not in _DEFAULT_TYPES[kind]:
        return None  # pydantic does not validate defaults: one of another type would land as it is
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
