"""A contract's schema hash: SHA-256 of the part of its canonical JSON Schema that decides what events are accepted
and what lands.

Canonical means: pydantic's validation-mode JSON Schema, with the model's own title removed (renaming the class does
not change what events it accepts), serialised with sorted keys and no whitespace. The hash leaves out what only
documents a schema — the annotation keywords ``title``, ``description``, ``examples``, ``$comment`` and
``deprecated`` (so docstrings and field descriptions) — and the order of ``required`` (so the order fields are
declared in); a default value is kept (it lands when the key is missing). An unchanged model therefore always has the
same hash, and the registry never makes a new version for it, nor refuses a documented one.

pydantic's JSON Schema leaves out some of what decides acceptance and the landed value; the canonical schema adds it
where it is set (absent, the schema is pydantic's own): ``maxDigits``/``decimalPlaces`` (``condecimal``),
``tzConstraint`` (``AwareDatetime``/``NaiveDatetime``), ``nowOp`` (``PastDate``, ``FutureDatetime``...), ``strict``,
``allowInfNan``, ``stripWhitespace``/``toLower``/``toUpper`` (``StringConstraints``) on a value's schema, and
``validationConfig`` on a model's: the model config that changes what its fields accept (``strict``,
``str_strip_whitespace``, ``str_to_lower``, ``coerce_numbers_to_str``, ``validate_by_name``...).
"""

from __future__ import annotations

import copy
import hashlib
import json
import weakref
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "canonical_json_schema", "schema_hash", "hash_json_schema", "hashed_schema", "legacy_schema_hash",
    "hashed_before_canonical_additions",
]

# Marks a canonical schema as holding the additions (below); not hashed. A schema recorded without it was hashed
# from pydantic's JSON Schema alone (before the additions): see hashed_before_canonical_additions.
_MARK = "x-streamproc-canonical"
_ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "deprecated", _MARK})
# Keywords whose object keys are names (a field named "title" is a field, not an annotation) or whose values are data.
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_DATA = frozenset({"default", "const", "enum", "discriminator", "dependentRequired"})


# Per class: (canonical schema, its hash). Generating a JSON Schema costs ~5 ms for an 8-field model, and a run asks
# for it from the registry, the preparer, the stage and the pipeline, all before its first event is read. A class's
# schema never changes once pydantic has built it; weak keys let classes defined in tests go.
_SCHEMAS: weakref.WeakKeyDictionary[type[BaseModel], tuple[dict[str, Any], str]] = weakref.WeakKeyDictionary()


def canonical_json_schema(contract: type[BaseModel]) -> dict[str, Any]:
    """The contract's JSON Schema (draft 2020-12, as pydantic emits it) without the top-level title (a copy the
    caller may change)."""
    return copy.deepcopy(_schema_and_hash(contract)[0])


def schema_hash(contract: type[BaseModel]) -> str:
    """``sha256:<64 hex digits>`` of the canonical JSON Schema (see :func:`hash_json_schema`)."""
    return _schema_and_hash(contract)[1]


def _schema_and_hash(contract: type[BaseModel]) -> tuple[dict[str, Any], str]:
    known = _SCHEMAS.get(contract)
    if known is None or not contract.__pydantic_complete__:
        schema = contract.model_json_schema(mode="validation", schema_generator=_CanonicalJsonSchema)
        schema.pop("title", None)
        schema[_MARK] = 2
        known = (schema, hash_json_schema(schema))
        if contract.__pydantic_complete__:
            _SCHEMAS[contract] = known
    return known


def legacy_schema_hash(contract: type[BaseModel]) -> str:
    """The hash as it was computed before the canonical schema's additions: from pydantic's JSON Schema alone."""
    schema = contract.model_json_schema(mode="validation")
    schema.pop("title", None)
    return hash_json_schema(schema)


def hashed_before_canonical_additions(json_schema: dict[str, Any]) -> bool:
    """A recorded schema (``_contracts``) from before the additions: its hash is a :func:`legacy_schema_hash`."""
    return _MARK not in json_schema


# Core schema key → JSON Schema keyword, with the value pydantic uses when it is not set (not written then).
_VALUE_KEYWORDS: dict[str, tuple[str, Any]] = {
    "max_digits": ("maxDigits", None),
    "decimal_places": ("decimalPlaces", None),
    "tz_constraint": ("tzConstraint", None),
    "now_op": ("nowOp", None),
    "now_utc_offset": ("nowUtcOffset", None),
    "microseconds_precision": ("microsecondsPrecision", "truncate"),
    "strict": ("strict", None),
    "strip_whitespace": ("stripWhitespace", None),
    "to_lower": ("toLower", None),
    "to_upper": ("toUpper", None),
}
# Model config that changes what the model's fields accept or land; written only when set (pydantic's core config
# holds only what the model sets).
_VALIDATION_CONFIG = (
    "strict", "str_strip_whitespace", "str_to_lower", "str_to_upper", "str_min_length", "str_max_length",
    "coerce_numbers_to_str", "allow_inf_nan", "validate_by_name", "validate_by_alias", "regex_engine",
    "val_json_bytes", "val_temporal_unit",
)


class _CanonicalJsonSchema(GenerateJsonSchema):
    """pydantic's validation JSON Schema plus what it leaves out that decides acceptance (see the module doc)."""

    def _with_constraints(self, json_schema: JsonSchemaValue, schema: CoreSchema) -> JsonSchemaValue:
        for key, (keyword, unset) in _VALUE_KEYWORDS.items():
            value = schema.get(key, unset)  # type: ignore[attr-defined]
            if value != unset and value is not None and value is not False:
                json_schema[keyword] = value
        return json_schema

    def decimal_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().decimal_schema(schema), schema)

    def datetime_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().datetime_schema(schema), schema)

    def date_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().date_schema(schema), schema)

    def time_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().time_schema(schema), schema)

    def str_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().str_schema(schema), schema)

    def bytes_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().bytes_schema(schema), schema)

    def int_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().int_schema(schema), schema)

    def bool_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().bool_schema(schema), schema)

    def uuid_schema(self, schema: Any) -> JsonSchemaValue:
        return self._with_constraints(super().uuid_schema(schema), schema)

    def float_schema(self, schema: Any) -> JsonSchemaValue:
        json_schema = self._with_constraints(super().float_schema(schema), schema)
        if schema.get("allow_inf_nan") is False:
            json_schema["allowInfNan"] = False
        return json_schema

    def model_schema(self, schema: Any) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        config = schema.get("config") or {}
        kept = {key: config[key] for key in _VALIDATION_CONFIG if key in config}
        if kept:
            # a model's schema may be a $ref to its definition: the config goes with the definition
            target = self.get_schema_from_definitions(json_schema) if "$ref" in json_schema else json_schema
            (target if target is not None else json_schema)["validationConfig"] = kept
        return json_schema


def hash_json_schema(schema: dict[str, Any]) -> str:
    """``sha256:<64 hex digits>`` of :func:`hashed_schema` serialised with sorted keys and no whitespace (a version
    inferred by ``evolve`` has no class, only its schema)."""
    text = json.dumps(hashed_schema(schema), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def hashed_schema(schema: Any) -> Any:
    """The part of a JSON Schema the hash covers: without annotation keywords, ``required`` sorted.

    Example:
        >>> hashed_schema({"description": "Doc.", "required": ["b", "a"], "properties": {"title": {"type": "string"}}})
        {'required': ['a', 'b'], 'properties': {'title': {'type': 'string'}}}
    """
    if isinstance(schema, list):
        return [hashed_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key in _DATA:
            kept[key] = value
        elif key in _NAMED_SCHEMAS and isinstance(value, dict):
            kept[key] = {name: hashed_schema(sub) for name, sub in value.items()}
        elif key == "required" and isinstance(value, list):
            kept[key] = sorted(value)
        else:
            kept[key] = hashed_schema(value)
    return kept
