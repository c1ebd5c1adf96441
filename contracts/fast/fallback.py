"""Per-field fallback: one field of an event validated by pydantic on its own, the rest of the event column-wise.

A field the decoder cannot check (a ``field_validator`` on it, ``EmailStr``, ``HttpUrl``, an IP address, a nested
model with validators of its own...) is decoded as its raw JSON text, and each value is then validated by the
field's own pydantic schema, taken from the model's core schema: the same validators (bound to the model's class),
constraints, default or ``default_factory``, and the model's config. The value lands as pydantic dumps it
(``model_dump``'s serializer for that field), converted as :mod:`contracts.dumps` says. A value pydantic refuses
sends its event to the per-row path, which reports the exact errors.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaSerializer, SchemaValidator

from contracts.dumps import Converter, converter, json_text

__all__ = ["FieldCheck", "JsonText", "NotCompiled", "RawValue", "field_schema"]


class NotCompiled(Exception):
    """A part of a contract the decoder cannot check column-wise; the message says why."""


class RawValue:
    """How a raw JSON value (or a missing key, ``None``) becomes the value its column lands.

    Raises:
        Exception: the value is not valid: its event goes to the per-row path.
    """

    def __call__(self, raw: bytes | None) -> Any:
        raise NotImplementedError


class JsonText(RawValue):
    """An ``Any``: the value pydantic parses (``pydantic_core.from_json``, as ``model_validate_json`` does), as the
    JSON text its column holds."""

    def __call__(self, raw: bytes | None) -> Any:
        from pydantic_core import from_json

        if raw is None:
            raise NotCompiled("a missing Any has no value")
        value = from_json(raw)
        return None if value is None else json_text(value)


class FieldCheck(RawValue):
    """A model field validated on its own by its core schema (validators, default, config), dumped and converted.

    Args:
        model: the model that declares the field.
        name: the field.

    Raises:
        NotCompiled: the field's schema cannot be taken out of the model's (a model-level wrapper around the fields).
    """

    def __init__(self, model: type[BaseModel], name: str) -> None:
        schema, definitions, config = field_schema(model, name)
        info = model.model_fields[name]
        # the model's config goes into the typed-dict itself: pydantic-core builds a typed-dict's fields with the
        # schema's own config, not the validator's (strict, str_*, validate_default... would be lost)
        typed: dict[str, Any] = {
            "type": "typed-dict",
            "fields": {"v": {"type": "typed-dict-field", "schema": schema, "required": info.is_required()}},
            **({"config": config} if config else {}),
        }
        if definitions:
            typed = {"type": "definitions", "schema": typed, "definitions": definitions}
        self._validate = SchemaValidator(typed, config).validate_json  # type: ignore[arg-type]
        self._dump = SchemaSerializer(typed, config).to_python  # type: ignore[arg-type]
        self._convert: Converter | None = converter(info.annotation)
        self.name = f"{model.__name__}.{name}"

    def __call__(self, raw: bytes | None) -> Any:
        # warnings=False: a default of another type than its field's is dumped as it is, as model_dump does
        value = self._dump(self._validate(b"{}" if raw is None else b'{"v":' + raw + b"}"), warnings=False)["v"]
        return value if value is None or self._convert is None else self._convert(value)


def field_schema(model: type[BaseModel], name: str) -> tuple[dict[str, Any], list[Any], dict[str, Any] | None]:
    """A model field's core schema (with its ``default`` wrapper), the model's definitions and its core config.

    Raises:
        NotCompiled: the model's schema wraps its fields (a model validator), or the field is not in it.
    """
    schema: Any = model.__pydantic_core_schema__
    definitions: list[Any] = []
    if schema.get("type") == "definitions":
        definitions = list(schema["definitions"])
        schema = schema["schema"]
    if schema.get("type") == "definition-ref":
        ref = schema["schema_ref"]
        schema = next((d for d in definitions if d.get("ref") == ref), None)
        if schema is None:
            raise NotCompiled(f"{model.__name__}: its schema is a reference to nothing")
    if schema.get("type") != "model":
        raise NotCompiled(f"{model.__name__}: a core schema of type {schema.get('type')!r}")
    config = schema.get("config")
    fields = schema.get("schema", {})
    if fields.get("type") != "model-fields" or name not in fields.get("fields", {}):
        raise NotCompiled(f"{model.__name__}: its fields are wrapped ({fields.get('type')!r}): a model validator")
    return fields["fields"][name]["schema"], definitions, config
