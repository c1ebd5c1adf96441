"""A contract's dumped values as its Arrow columns take them: conversions, and values a column cannot hold.

pydantic's python dump (``model_dump()``) is what lands, through the contract's Arrow schema (:mod:`contracts.arrow`).
Most values go into Arrow as they are; a few types dump to objects Arrow does not take, and are converted the same
way on every path (per row, per field and column-wise), so that the same event always lands the same value:

=====================================================  ================================================
dumped value                                           landed as
=====================================================  ================================================
``UUID``, IP addresses / networks / interfaces,        ``str(value)`` (text)
URLs (``HttpUrl``...), ``NameEmail``
an ``Enum`` member that is neither ``str`` nor ``int``  its ``value``
``Any`` (anything JSON holds)                          JSON text (``pydantic_core.to_json``; ``NaN`` and
                                                       infinities become ``null``)
=====================================================  ================================================

Columns hold what pydantic's types do not bound: an ``int`` beyond int64, or a ``Decimal`` that
``decimal128(38, 9)`` cannot hold exactly (more than 9 significant decimal places, or more than 29 digits before
the point), cannot land. They are violations of their own (``int64_overflow``, ``decimal_overflow``) on every path.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import decimal
import enum
import ipaddress
import types
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
import pydantic_core
from pydantic import BaseModel

__all__ = [
    "Converter",
    "OverflowKeys",
    "converter",
    "decimal_fits",
    "json_text",
    "model_converter",
    "overflow_keys",
    "overflows",
    "value_overflows",
]

Converter = Callable[[Any], Any]
"""A dumped value (never ``None``) → the value its Arrow column takes."""

_INT64 = (-(2**63), 2**63 - 1)
DECIMAL_SCALE = 9
DECIMAL_PRECISION = 38
_TEXT_TYPES: tuple[type, ...] = (
    uuid.UUID,
    ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network,
    ipaddress.IPv4Interface, ipaddress.IPv6Interface,
    pydantic.IPvAnyAddress, pydantic.IPvAnyNetwork, pydantic.IPvAnyInterface,
    pydantic.NameEmail,
)
_URL_TYPES: tuple[type, ...] = tuple(
    t for t in (getattr(pydantic.networks, "_BaseUrl", None), getattr(pydantic.networks, "_BaseMultiHostUrl", None),
                pydantic_core.Url, pydantic_core.MultiHostUrl) if isinstance(t, type)
)


def json_text(value: Any) -> str:
    """``Any`` as its column holds it: compact JSON text (what :mod:`contracts.arrow` maps ``Any`` to)."""
    return pydantic_core.to_json(value).decode()


def _text(value: Any) -> str:
    return value if type(value) is str else str(value)


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def converter(annotation: Any) -> Converter | None:
    """How a dumped value of this type becomes its column's value; ``None`` when it goes into Arrow as it is."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return converter(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(members) > 1 and len(models) == len(members):
            return _union_converter(models)
        convert = converter(members[0]) if len(members) == 1 else None
        return None if convert is None else _skip_none(convert)
    if origin is Literal:
        return None
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        item = converter(args[0]) if args else None
        return None if item is None else _list_converter(_skip_none(item))
    if origin is dict:
        args = get_args(annotation)
        value = converter(args[1]) if len(args) == 2 else None
        return None if value is None else _dict_converter(_skip_none(value))
    if annotation is Any or annotation is object:
        return json_text
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return model_converter(annotation)
        if issubclass(annotation, enum.Enum):
            return None if issubclass(annotation, (str, int)) else _enum_value
        if issubclass(annotation, _TEXT_TYPES) or (_URL_TYPES and issubclass(annotation, _URL_TYPES)):
            return _text
    if getattr(annotation, "__name__", None) in ("EmailStr", "NameEmail"):
        return _text
    return None


def model_converter(model: type[BaseModel]) -> Converter | None:
    """A nested model's dumped dict with its fields converted; ``None`` when no field needs it (cached)."""
    if model not in _MODELS:
        _MODELS[model] = None  # a recursive model refers to itself: no conversion while compiling
        fields = _field_converters(model)
        _MODELS[model] = _fields_converter(fields) if fields else None
    return _MODELS[model]


_MODELS: weakref.WeakKeyDictionary[type, Converter | None] = weakref.WeakKeyDictionary()


def _field_converters(model: type[BaseModel]) -> dict[str, Converter]:
    found: dict[str, Converter] = {}
    for name, info in model.model_fields.items():
        convert = converter(info.annotation)
        if convert is not None:
            found[name] = _skip_none(convert)
    for name, computed in model.model_computed_fields.items():
        convert = converter(computed.return_type)
        if convert is not None:
            found[name] = _skip_none(convert)
    return found


def _fields_converter(fields: dict[str, Converter]) -> Converter:
    items = tuple(fields.items())

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, field_converter in items:
            if name in out:
                out[name] = field_converter(out[name])
        return out

    return convert


def _union_converter(models: list[type[BaseModel]]) -> Converter | None:
    """A union of models lands in one struct of all their fields (:mod:`contracts.arrow`): each key converted by the
    first member that converts it (members agree on a key's Arrow type, so the conversions agree)."""
    fields: dict[str, Converter] = {}
    for model in models:
        for name, convert in _field_converters(model).items():
            fields.setdefault(name, convert)
    return _fields_converter(fields) if fields else None


def _skip_none(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


def _list_converter(item: Converter) -> Converter:
    return lambda values: [item(v) for v in values]


def _dict_converter(value: Converter) -> Converter:
    return lambda mapping: {k: value(v) for k, v in mapping.items()}


# -- values a column cannot hold -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverflowKeys:
    """The keys of a contract's dumped rows (``model_dump``, python mode) that may hold a number its column cannot.

    Attributes:
        scalars: keys whose value is an ``int`` or a ``Decimal``, or something that is never one (``None``).
        nested: keys whose value may hold ints or decimals anywhere inside (models, lists, dicts, ``Any``): walked.
    """

    scalars: tuple[str, ...]
    nested: tuple[str, ...]


def overflow_keys(contract: type[BaseModel]) -> OverflowKeys | None:
    """Where a contract's dumped rows can hold an ``int`` or a ``Decimal``, from its fields' and computed fields'
    types; ``None`` when the dump's shape does not follow from the types (serializers, dumps by alias): then walk
    every value."""
    if contract not in _KEYS:
        _KEYS[contract] = _overflow_keys(contract)
    return _KEYS[contract]


_KEYS: weakref.WeakKeyDictionary[type, OverflowKeys | None] = weakref.WeakKeyDictionary()


def _overflow_keys(contract: type[BaseModel]) -> OverflowKeys | None:
    decorators = contract.__pydantic_decorators__
    config = contract.model_config
    if (decorators.field_serializers or decorators.model_serializers or config.get("serialize_by_alias")
            or config.get("use_enum_values")):
        return None
    scalars: list[str] = []
    nested: list[str] = []
    fields = [(name, info.annotation) for name, info in contract.model_fields.items()]
    fields += [(name, info.return_type) for name, info in contract.model_computed_fields.items()]
    for name, annotation in fields:
        holds = _holds_number(annotation)
        if holds == "scalar":
            scalars.append(name)
        elif holds == "nested":
            nested.append(name)
    return OverflowKeys(tuple(scalars), tuple(nested))


# Types whose dumped values are never an int or a Decimal nor hold one (pydantic's own markers included).
_NEVER_NUMBER = (
    str, bytes, float, bool, dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID, enum.Enum,
    pydantic.AwareDatetime, pydantic.NaiveDatetime, pydantic.FutureDatetime, pydantic.PastDatetime,
    pydantic.FutureDate, pydantic.PastDate, pydantic.SecretStr, pydantic.SecretBytes, *_TEXT_TYPES, *_URL_TYPES,
)


def _holds_number(annotation: Any) -> Literal["no", "scalar", "nested"]:
    """Whether a value of this type, as pydantic dumps it in python mode, is an int or a Decimal, or may hold one."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_number(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found = {_holds_number(member) for member in get_args(annotation)}
        return "nested" if "nested" in found else "scalar" if "scalar" in found else "no"
    if origin is Literal:
        return "scalar" if any(type(v) is int for v in get_args(annotation)) else "no"
    if annotation is type(None) or (isinstance(annotation, type) and issubclass(annotation, _NEVER_NUMBER)):
        return "no"  # a float field dumps a float even when the JSON sent an integer; bool and enums are not int
    if annotation is int or annotation is decimal.Decimal:
        return "scalar"
    if getattr(annotation, "__name__", None) in ("EmailStr", "NameEmail"):
        return "no"
    return "nested"  # a model, a container, Any, a custom type: walk its dumped value


def overflows(row: dict[str, Any], keys: OverflowKeys | None = None) -> list[dict[str, Any]]:
    """Errors (pydantic's shape) for the numbers a row's columns cannot hold.

    Args:
        row: a dumped row (``model_dump``, python mode).
        keys: where the row can hold such numbers (:func:`overflow_keys`); default: every value is walked.

    Returns:
        One error per number (``loc``, ``type`` ``int64_overflow`` or ``decimal_overflow``, ``msg``), in the row's
        key order.
    """
    found: list[dict[str, Any]] = []
    if keys is None:
        for key, value in row.items():
            _walk(value, (key,), found)
        return found
    low, high = _INT64
    for key in keys.scalars:
        value = row.get(key)
        if (type(value) is int and not low <= value <= high) or type(value) is decimal.Decimal:
            _walk(value, (key,), found)
    for key in keys.nested:
        _walk(row.get(key), (key,), found)
    if len(found) > 1:  # scalars were checked before nested keys: back to the row's order
        order = {key: position for position, key in enumerate(row)}
        found.sort(key=lambda error: order.get(error["loc"][0], len(order)))
    return found


def value_overflows(value: Any) -> bool:
    """Whether a dumped value holds a number its column cannot (walks it)."""
    found: list[dict[str, Any]] = []
    _walk(value, (), found)
    return bool(found)


def decimal_fits(value: decimal.Decimal) -> bool:
    """Whether ``decimal128(38, 9)`` holds the value exactly."""
    if not value.is_finite():
        return False
    sign, digits, exponent = value.as_tuple()
    significant = list(digits)
    while len(significant) > 1 and significant[-1] == 0:  # trailing zeros carry no information
        significant.pop()
        exponent += 1  # type: ignore[operator]
    if significant == [0]:
        return True
    return exponent + DECIMAL_SCALE >= 0 and len(significant) + exponent + DECIMAL_SCALE <= DECIMAL_PRECISION  # type: ignore[operator]


def _walk(value: Any, loc: tuple[str | int, ...], found: list[dict[str, Any]]) -> None:
    if type(value) is int:
        if not _INT64[0] <= value <= _INT64[1]:
            found.append({"loc": loc, "type": "int64_overflow", "msg": "Input should fit a 64-bit integer column"})
    elif isinstance(value, decimal.Decimal):
        if not decimal_fits(value):
            found.append({"loc": loc, "type": "decimal_overflow",
                          "msg": "Input should fit a decimal(38, 9) column: at most 9 decimal places and 29 digits "
                                 "before the point"})
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, (*loc, key), found)
    elif isinstance(value, list | tuple | set | frozenset):
        for position, item in enumerate(value):
            _walk(item, (*loc, position), found)
