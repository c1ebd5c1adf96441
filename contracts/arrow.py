"""Compiling a contract to an Arrow schema.

The table schema is derived from the contract, never inferred from a batch (STYLE rule 9). Mapping:

==========================  ===========================================
Python / pydantic           Arrow
==========================  ===========================================
``bool``                    ``bool``
``int``                     ``int64``
``float``                   ``float64``
``str``, ``Enum`` (str),    ``string``
``Literal[str, ...]``,
``UUID``
``Decimal``                 ``decimal128(38, 9)``
``datetime``                ``timestamp[us, tz=UTC]`` (naive values are read as UTC)
``date``                    ``date32``
``time``                    ``time64[us]``
``bytes``                   ``binary``
``list[T]``, ``set[T]``,    ``list<T>``
``tuple[T, ...]``
``dict[str, T]``            ``map<string, T>``
a nested ``BaseModel``      ``struct<...>``
a union of models           ``struct<...>``: every member's fields (nullable
(``A | B``, tagged or not)  unless every member has it non-null); a field
                            in several members must map to one type
IP addresses, networks,     ``string`` (their text)
interfaces; URLs,
``EmailStr``, ``NameEmail``
``Any``                     ``string``: the value as JSON text
``T | None``                ``T``, nullable
==========================  ===========================================

Computed fields (``@computed_field``) are columns too, typed by their return annotation. How dumped values become
column values (UUIDs and URLs as text, ``Any`` as JSON) is :mod:`contracts.dumps`.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import decimal
import enum
import ipaddress
import types
import uuid
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pyarrow as pa
import pydantic
from pydantic import BaseModel

from contracts.declare import Tag
from contracts.errors import UnsupportedTypeError

__all__ = ["contract_arrow_schema", "arrow_type"]

_SCALARS: dict[type, pa.DataType] = {
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
    bytes: pa.binary(),
    uuid.UUID: pa.string(),
    decimal.Decimal: pa.decimal128(38, 9),
    dt.datetime: pa.timestamp("us", tz="UTC"),
    dt.date: pa.date32(),
    dt.time: pa.time64("us"),
}


# pydantic's constrained types that are classes of their own at run time, not subclasses of the Python type.
_PYDANTIC_TYPES: dict[Any, type] = {
    pydantic.AwareDatetime: dt.datetime,
    pydantic.NaiveDatetime: dt.datetime,
    pydantic.PastDatetime: dt.datetime,
    pydantic.FutureDatetime: dt.datetime,
    pydantic.PastDate: dt.date,
    pydantic.FutureDate: dt.date,
}


def contract_arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a contract's rows: one field per model field and computed field, in declaration order.

    Field nullability follows ``Optional``; field metadata carries the description (``b"description"``) and the
    field's tags, comma-separated (``b"tags"``: PII categories, for lineage).

    Raises:
        UnsupportedTypeError: a field's annotation has no Arrow mapping (names the field and the type).
    """
    fields: list[pa.Field] = []
    for name, info in model.model_fields.items():
        tags = [m.name for m in info.metadata if isinstance(m, Tag)]
        fields.append(_field(model, name, info.annotation, info.description, tags))
    for name, info in model.model_computed_fields.items():
        fields.append(_field(model, name, info.return_type, info.description))
    return pa.schema(fields)


def _field(
    model: type[BaseModel], name: str, annotation: Any, description: str | None, tags: list[str] | None = None
) -> pa.Field:
    try:
        arrow, nullable = arrow_type(annotation)
    except UnsupportedTypeError as exc:
        raise UnsupportedTypeError(f"{model.__name__}.{name}: {exc}") from None
    metadata = {b"description": description.encode()} if description else {}
    if tags:  # the field's tags (PII categories) travel with the compiled schema, for lineage
        metadata[b"tags"] = ",".join(tags).encode()
    return pa.field(name, arrow, nullable=nullable, metadata=metadata or None)


def arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """``(arrow type, nullable)`` for one annotation.

    Raises:
        UnsupportedTypeError: no mapping (e.g. ``Any``, a union of two non-null types).
    """
    if annotation in _PYDANTIC_TYPES:
        return _SCALARS[_PYDANTIC_TYPES[annotation]], False
    if getattr(annotation, "__name__", None) in ("EmailStr", "NameEmail") or _is_text(annotation):
        return pa.string(), False
    if annotation is Any:
        return pa.string(), True  # JSON text; JSON's null is a null
    origin = get_origin(annotation)
    if origin is Annotated:
        return arrow_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(members) < len(get_args(annotation))
        if len(members) > 1 and all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
            return _merged_struct(annotation, members), nullable
        if len(members) != 1:
            raise UnsupportedTypeError(f"a union of several types ({annotation}) has no single Arrow type")
        inner, inner_nullable = arrow_type(members[0])
        return inner, nullable or inner_nullable
    if origin is Literal:
        values = get_args(annotation)
        kinds = {type(v) for v in values}
        if len(kinds) != 1:
            raise UnsupportedTypeError(f"a Literal of mixed types ({annotation})")
        return arrow_type(kinds.pop())
    if origin in (list, set, frozenset, collections.abc.Sequence, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if origin is tuple and len(set(args)) > 1:
            raise UnsupportedTypeError(f"a heterogeneous tuple ({annotation})")
        if not args:
            raise UnsupportedTypeError(f"a collection without an item type ({annotation})")
        item, item_nullable = arrow_type(args[0])
        return pa.list_(pa.field("item", item, nullable=item_nullable)), False
    if origin is dict:
        key, value = get_args(annotation) or (None, None)
        if key is not str:
            raise UnsupportedTypeError(f"a dict whose keys are not str ({annotation})")
        value_type, value_nullable = arrow_type(value)
        return pa.map_(pa.string(), pa.field("value", value_type, nullable=value_nullable)), False
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return pa.struct(list(contract_arrow_schema(annotation))), False
        if issubclass(annotation, enum.Enum):
            kinds = {type(m.value) for m in annotation}
            if len(kinds) != 1:
                raise UnsupportedTypeError(f"an Enum with values of mixed types ({annotation.__name__})")
            return arrow_type(kinds.pop())
        for python_type in (bool, int, float, str, bytes, dt.datetime, dt.date, dt.time, decimal.Decimal, uuid.UUID):
            # bool before int and datetime before date: the subclass decides.
            if issubclass(annotation, python_type):
                return _SCALARS[python_type], False
    raise UnsupportedTypeError(f"no Arrow type for {annotation!r}")


# Types pydantic dumps as objects whose text is the value (contracts.dumps converts them).
_TEXT_TYPES: tuple[type, ...] = (
    ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network,
    ipaddress.IPv4Interface, ipaddress.IPv6Interface,
    pydantic.IPvAnyAddress, pydantic.IPvAnyNetwork, pydantic.IPvAnyInterface, pydantic.NameEmail,
    pydantic.AnyUrl, pydantic.networks._BaseMultiHostUrl,
)


def _is_text(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, _TEXT_TYPES)


def _merged_struct(annotation: Any, members: list[type[BaseModel]]) -> pa.StructType:
    """One struct for a union of models: each member's fields in order of first appearance, nullable unless every
    member has the field non-nullable (an event of another member leaves it null)."""
    merged: dict[str, pa.Field] = {}
    required: dict[str, int] = {}
    for member in members:
        for f in contract_arrow_schema(member):
            known = merged.get(f.name)
            if known is None:
                merged[f.name] = f
            elif not known.type.equals(f.type):
                raise UnsupportedTypeError(
                    f"{annotation}: field {f.name!r} is {known.type} in one member and {f.type} in another"
                )
            if not f.nullable:
                required[f.name] = required.get(f.name, 0) + 1
    return pa.struct(
        [f.with_nullable(required.get(name, 0) < len(members)) for name, f in merged.items()]
    )
