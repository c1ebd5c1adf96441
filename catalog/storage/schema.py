"""Schema facet helpers: the canonical hash that deduplicates schema versions, and flattening nested fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from catalog.models import SchemaField

__all__ = ["flatten_fields", "schema_hash"]


def _field_dict(field: SchemaField) -> dict[str, Any]:
    return {
        "name": field.name,
        "type": field.type,
        "description": field.description,
        "fields": [_field_dict(child) for child in field.fields],
    }


def schema_hash(fields: Iterable[SchemaField]) -> str:
    """SHA-256 (hex) of the canonical JSON of the schema fields: name, type, description and nested fields, in
    order; tags are metadata, not schema, and do not change the hash."""
    canonical = json.dumps([_field_dict(f) for f in fields], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def flatten_fields(fields: Iterable[SchemaField], prefix: str = "") -> list[SchemaField]:
    """Depth-first list of fields with dotted names (``address.city``), parents before children."""
    flat: list[SchemaField] = []
    for field in fields:
        named = field.model_copy(update={"name": f"{prefix}{field.name}"})
        flat.append(named)
        flat.extend(flatten_fields(field.fields, prefix=f"{named.name}."))
    return flat
