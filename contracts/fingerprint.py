"""A contract's schema hash: SHA-256 of its canonical JSON Schema.

Canonical means: pydantic's validation-mode JSON Schema, with the model's own title removed (renaming the class does
not change what events it accepts), serialised with sorted keys and no whitespace. An unchanged model therefore always
has the same hash, and the registry never makes a new version for it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from contracts.declare import Contract

__all__ = ["canonical_json_schema", "schema_hash", "hash_json_schema"]


def canonical_json_schema(contract: type[Contract]) -> dict[str, Any]:
    """The contract's JSON Schema (draft 2020-12, as pydantic emits it) without the top-level title."""
    schema = contract.model_json_schema(mode="validation")
    schema.pop("title", None)
    return schema


def schema_hash(contract: type[Contract]) -> str:
    """``sha256:<64 hex digits>`` of the canonical JSON Schema."""
    return hash_json_schema(canonical_json_schema(contract))


def hash_json_schema(schema: dict[str, Any]) -> str:
    """``sha256:<64 hex digits>`` of a JSON Schema serialised with sorted keys and no whitespace (a version
    inferred by ``evolve`` has no class, only its schema)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
