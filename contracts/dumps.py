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
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import pydantic
import pydantic_core
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = [
    "Converter",
    "converter",
    "decimal_fits",
    "json_text",
    "model_converter",
    "overflow_check",
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


Found = list[dict[str, Any]]
Check = Callable[[Any, tuple[Any, ...], Found], None]
"""Appends an error (pydantic's shape) for each number in a dumped value its column cannot hold."""


def overflow_check(contract: type[BaseModel]) -> Callable[[dict[str, Any]], Found]:
    """A function that finds, in a contract's dumped row, the numbers its columns cannot hold: only where the types
    say an ``int`` or a ``Decimal`` lands (not inside ``Any``, which lands as JSON text); every value is walked when
    the dump's shape does not follow from the types (serializers, dumps by alias). Cached.

    The errors have ``loc``, ``type`` (``int64_overflow`` or ``decimal_overflow``) and ``msg``, in the row's order.
    """
    if contract not in _CHECKS:
        _CHECKS[contract] = _row_check(contract)
    return _CHECKS[contract]


_CHECKS: weakref.WeakKeyDictionary[type, Callable[[dict[str, Any]], Found]] = weakref.WeakKeyDictionary()


def _row_check(contract: type[BaseModel]) -> Callable[[dict[str, Any]], Found]:
    decorators = contract.__pydantic_decorators__
    config = contract.model_config
    if decorators.field_serializers or decorators.model_serializers or config.get("serialize_by_alias"):
        return overflows
    check = _model_check(contract)
    if check is None:
        return lambda row: []

    def checked(row: dict[str, Any]) -> Found:
        found: Found = []
        check(row, (), found)
        return found

    return checked


def _type_check(annotation: Any, metadata: tuple[Any, ...] = ()) -> Check | None:
    """The check of a dumped value of this type (with its field's metadata); ``None`` when it never holds an ``int``
    or a ``Decimal`` its column cannot hold (bounds, digits and places can rule that out)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _type_check(inner, (*metadata, *extra))
    if origin in (Union, types.UnionType):
        checks = [c for c in map(_type_check, get_args(annotation)) if c is not None]
        if not checks:
            return None
        return lambda value, loc, found: _first_finding(checks, value, loc, found)
    if origin is Literal:
        ints = [v for v in get_args(annotation) if type(v) is int]
        return _number if any(not _INT64[0] <= v <= _INT64[1] for v in ints) else None
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        item = _type_check(args[0]) if args else _walk
        if item is None:
            return None
        return lambda value, loc, found: [item(v, (*loc, i), found) for i, v in enumerate(value)] and None
    if origin is dict:
        args = get_args(annotation)
        item = _type_check(args[1]) if len(args) == 2 else _walk
        if item is None:
            return None
        return lambda value, loc, found: [item(v, (*loc, k), found) for k, v in value.items()] and None
    if annotation is Any or annotation is object or annotation is type(None):
        return None  # Any lands as JSON text: any number fits
    if annotation is int:
        limits = _limits(metadata)
        low, high = limits.get("ge", limits.get("gt")), limits.get("le", limits.get("lt"))
        fits = low is not None and high is not None and _INT64[0] <= low and high <= _INT64[1]
        return None if fits else _number
    if annotation is decimal.Decimal:
        limits = _limits(metadata)
        digits, places = limits.get("max_digits"), limits.get("decimal_places")
        fits = digits is not None and places is not None and places <= DECIMAL_SCALE and (
            digits - places <= DECIMAL_PRECISION - DECIMAL_SCALE)
        return None if fits else _number
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _model_check(annotation)
        if issubclass(annotation, _NEVER_NUMBER):
            return None
    if getattr(annotation, "__name__", None) in ("EmailStr", "NameEmail"):
        return None
    return _walk  # a custom type: walk its dumped value


def _model_check(model: type[BaseModel]) -> Check | None:
    if model in _MODEL_CHECKS:
        return _MODEL_CHECKS[model]
    _MODEL_CHECKS[model] = _walk  # a recursive model: walk what recursion reaches
    fields = [(name, _type_check(info.annotation, tuple(info.metadata))) for name, info in model.model_fields.items()]
    fields += [(name, _type_check(info.return_type)) for name, info in model.model_computed_fields.items()]
    checks = tuple((name, check) for name, check in fields if check is not None)

    def check(value: Any, loc: tuple[Any, ...], found: Found) -> None:
        if isinstance(value, dict):
            for name, field_check in checks:
                item = value.get(name)
                if item is not None:
                    field_check(item, (*loc, name), found)

    _MODEL_CHECKS[model] = check if checks else None
    return _MODEL_CHECKS[model]


_MODEL_CHECKS: weakref.WeakKeyDictionary[type, Check | None] = weakref.WeakKeyDictionary()


def _limits(metadata: tuple[Any, ...]) -> dict[str, Any]:
    """Bounds (``ge``, ``gt``, ``le``, ``lt``) and ``max_digits``/``decimal_places`` however the metadata spells them."""
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.update(_limits(tuple(item.metadata)))
        elif isinstance(item, at.Gt | at.Ge | at.Lt | at.Le):
            name = type(item).__name__.lower()
            found[name] = getattr(item, name)
        elif isinstance(item, at.GroupedMetadata):
            found.update(_limits(tuple(item)))
        elif type(item).__name__ == "_PydanticGeneralMetadata":
            found.update({k: v for k, v in vars(item).items() if k in ("max_digits", "decimal_places")})
    return {k: v for k, v in found.items() if isinstance(v, int | float | decimal.Decimal)}


def _first_finding(checks: list[Check], value: Any, loc: tuple[Any, ...], found: Found) -> None:
    """A union's value: the first member's check that finds something (members check what they recognise)."""
    for check in checks:
        mark = len(found)
        check(value, loc, found)
        if len(found) > mark:
            return


def _number(value: Any, loc: tuple[Any, ...], found: Found) -> None:
    if type(value) is int or isinstance(value, decimal.Decimal):
        _walk(value, loc, found)


# Types whose dumped values are never an int or a Decimal nor hold one (pydantic's own markers included).
_NEVER_NUMBER = (
    str, bytes, float, bool, dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID, enum.Enum,
    pydantic.AwareDatetime, pydantic.NaiveDatetime, pydantic.FutureDatetime, pydantic.PastDatetime,
    pydantic.FutureDate, pydantic.PastDate, pydantic.SecretStr, pydantic.SecretBytes, *_TEXT_TYPES, *_URL_TYPES,
)


def overflows(row: dict[str, Any]) -> Found:
    """Errors (pydantic's shape) for every number in a dumped row its column cannot hold, walking every value."""
    found: Found = []
    for key, value in row.items():
        _walk(value, (key,), found)
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
