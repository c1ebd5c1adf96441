"""A contract's schema hash: SHA-256 of the part of its canonical JSON Schema that decides what events are accepted
and what lands.

Canonical means: pydantic's validation-mode JSON Schema, with the model's own title removed (renaming the class does
not change what events it accepts), serialised with sorted keys and no whitespace. The hash leaves out what only
documents a schema — the annotation keywords ``title``, ``description``, ``examples``, ``$comment`` and
``deprecated`` (so docstrings and field descriptions) — and the order of ``required`` (so the order fields are
declared in); a default value is kept (it lands when the key is missing). An unchanged model therefore always has the
same hash, and the registry never makes a new version for it, nor refuses a documented one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import weakref
from typing import Any

from pydantic import BaseModel

__all__ = ["canonical_json_schema", "schema_hash", "hash_json_schema", "hashed_schema"]

_ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "deprecated"})
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
        schema = contract.model_json_schema(mode="validation")
        schema.pop("title", None)
        known = (schema, hash_json_schema(schema))
        if contract.__pydantic_complete__:
            _SCHEMAS[contract] = known
    return known


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
