"""Schema evolution under ``evolve`` (dlt's semantics): new columns and variant columns.

- ``columns: evolve`` — an undeclared top-level key lands in a new column named like the key, typed by its first
  non-null value (dlt: "new columns may always be appended to the existing table"). A null value creates nothing.
- ``data_type: evolve`` — a value whose *type* does not fit its column lands in a variant column
  ``<column>__v_<type>`` (dlt's variant columns), and the column itself is null for that row. A missing required
  value, or a null in a non-null field, lands as null (dlt's ``nullable`` change is a ``data_type`` change too).

Type names are dlt's: ``bool``, ``bigint``, ``double``, ``text``, ``json`` (objects and arrays, stored as JSON text).

Evolved columns carry Arrow field metadata (``streamproc.evolved``: the type name; ``streamproc.entity``;
``streamproc.variant_of``), so a table says which of its columns the data added. The contract version that
describes an evolved table is *inferred*: the declared JSON Schema plus the evolved properties
(:func:`evolved_json_schema`), registered with origin ``inferred``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from contracts.modes import ResolvedModes
from contracts.results import EvolvedColumn, TypeName

__all__ = [
    "TypeName",
    "EvolvedColumn",
    "type_name_of",
    "fits",
    "column_value",
    "variant_name",
    "evolved_columns_of",
    "evolved_json_schema",
    "evolvable_fields",
    "with_evolvable_nullable",
    "TYPE_ERRORS",
    "NULL_ERRORS",
    "RUNTIME_COLUMNS",
]

_JSON_SCHEMA: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "bigint": {"type": "integer"},
    "double": {"type": "number"},
    "text": {"type": "string"},
    "json": {"type": ["array", "object"]},
}
_INT64 = (-(2**63), 2**63 - 1)

RUNTIME_COLUMNS: tuple[str, ...] = (
    "_load_id", "_ingested_at", "_source", "_partition", "_offset", "_contract_version",
)
"""The lineage columns the runtime adds to every landed row (DESIGN.md): no evolved column may take their names."""

# pydantic error types that mean "a value of another type" (a variant), as opposed to a constraint violation
# (range, pattern, length, Literal), which no type change fixes.
TYPE_ERRORS = frozenset(
    {
        "bool_type", "bool_parsing", "int_type", "int_parsing", "int_from_float", "int_parsing_size",
        "float_type", "float_parsing", "string_type", "string_unicode", "bytes_type", "decimal_type",
        "decimal_parsing", "datetime_type", "datetime_parsing", "datetime_from_date_parsing", "date_type",
        "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "time_type", "time_parsing",
        "timezone_aware", "timezone_naive", "uuid_type", "uuid_parsing", "list_type", "tuple_type", "set_type",
        "dict_type", "model_type", "model_attributes_type", "dataclass_type", "enum", "literal_error",
        "is_instance_of", "union_tag_invalid",
    }
)
NULL_ERRORS = frozenset({"missing"})
"""``missing`` and a null where the type forbids one (reported as the type's ``*_type`` error with a ``None``
input) become nulls under ``data_type: evolve``."""


def type_name_of(value: Any) -> TypeName:
    """dlt's type name of a JSON value (``None`` has none: callers skip nulls)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "bigint" if _INT64[0] <= value <= _INT64[1] else "text"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "text"
    return "json"


def fits(value: Any, type_name: str) -> bool:
    """Whether a JSON value lands in a column of ``type_name`` as it is (an integer fits ``double``)."""
    if value is None:
        return True
    found = type_name_of(value)
    return found == type_name or (type_name == "double" and found == "bigint")


def column_value(value: Any, type_name: str) -> Any:
    """The value as stored in a column of ``type_name`` (JSON text for ``json``)."""
    if value is None:
        return None
    if type_name == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if type_name == "text" and not isinstance(value, str):
        return str(value)  # an integer beyond int64
    if type_name == "double":
        return float(value)
    return value


def variant_name(column: str, type_name: str) -> str:
    """dlt's variant column name: ``<column>__v_<type>``."""
    return f"{column}__v_{type_name}"


def evolved_columns_of(schema: pa.Schema) -> dict[str, EvolvedColumn]:
    """The evolved columns of a table schema, by their Arrow field metadata."""
    found: dict[str, EvolvedColumn] = {}
    for f in schema:
        meta = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                for k, v in (f.metadata or {}).items()}
        if "streamproc.evolved" in meta:
            found[f.name] = EvolvedColumn(
                f.name, meta["streamproc.evolved"], meta.get("streamproc.entity", "columns"),  # type: ignore[arg-type]
                meta.get("streamproc.variant_of"),
            )
    return found


def evolved_json_schema(base: Mapping[str, Any], columns: Iterable[EvolvedColumn]) -> dict[str, Any]:
    """The JSON Schema of an evolved table's events: ``base`` plus each evolved column.

    A new column becomes an optional, nullable property; a variant adds its type to the property it varies (which
    becomes optional and nullable). The result depends only on the *set* of columns, so the same evolution always
    hashes the same and never makes a second version.
    """
    schema = copy.deepcopy(dict(base))
    properties: dict[str, Any] = schema.setdefault("properties", {})
    required: list[str] = list(schema.get("required", []))
    ordered = sorted(columns, key=lambda c: (c.entity != "columns", c.name))
    for column in ordered:
        if column.entity == "columns":
            properties[column.name] = {"anyOf": [_JSON_SCHEMA[column.type_name], {"type": "null"}], "default": None}
    for column in ordered:
        if column.entity == "data_type" and column.variant_of:
            prop = properties.get(column.variant_of, {})
            branches = [b for b in prop.get("anyOf", [prop] if prop else []) if b.get("type") != "null"]
            if _JSON_SCHEMA[column.type_name] not in branches:
                branches.append(_JSON_SCHEMA[column.type_name])
            branches = sorted(branches, key=lambda b: json.dumps(b, sort_keys=True)) + [{"type": "null"}]
            keep = {k: v for k, v in prop.items() if k in ("title", "description")}
            properties[column.variant_of] = {**keep, "anyOf": branches, "default": None}
            if column.variant_of in required:
                required.remove(column.variant_of)
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    return schema


def evolvable_fields(field_names: Iterable[str], modes: ResolvedModes) -> frozenset[str]:
    """The top-level fields whose ``data_type`` mode is ``evolve`` (their table columns must be nullable)."""
    return frozenset(name for name in field_names if modes.for_loc((name,), "data_type") == "evolve")


def with_evolvable_nullable(schema: pa.Schema, fields: Iterable[str]) -> pa.Schema:
    """``schema`` with the ``fields`` made nullable (a type change moves their value out and leaves a null)."""
    names = set(fields)
    return pa.schema([f.with_nullable(True) if f.name in names else f for f in schema], metadata=schema.metadata)
