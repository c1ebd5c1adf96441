"""Turning a request body into a validated OpenLineage event (see ``catalog.models`` for what is checked).

Optionally also validates against the official JSON schema (``CATALOG_OPENLINEAGE_SCHEMA`` = a path to a copy of
``OpenLineage.json`` the user provides; none ships with streamproc), with ``jsonschema`` and its format checker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import ValidationError

from catalog.errors import ConfigError, InvalidEventError
from catalog.models import DatasetEvent, JobEvent, RunEvent

__all__ = ["Event", "load_json_schema", "parse_event"]

Event = RunEvent | DatasetEvent | JobEvent


def load_json_schema(path: Path) -> jsonschema.protocols.Validator:
    """A validator for the OpenLineage JSON schema at ``path``.

    Raises:
        ConfigError: the file is not JSON or not a valid JSON schema.
    """
    try:
        schema = json.loads(path.read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        raise ConfigError(f"cannot use {path} as the OpenLineage JSON schema: {exc}") from exc
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _model_for(payload: dict[str, Any]) -> type[Event]:
    if "run" in payload:
        return RunEvent
    if "dataset" in payload:
        return DatasetEvent
    return JobEvent


def parse_event(
    body: bytes, *, json_schema: jsonschema.protocols.Validator | None = None
) -> tuple[Event, dict[str, Any]]:
    """Parse and validate one OpenLineage event.

    Returns:
        The typed event and its payload (the JSON object as received).

    Raises:
        InvalidEventError: status 400 if the body is not a JSON object; 422 with every violation
            (``{"loc", "msg", "type"}``) if it is not a valid RunEvent / DatasetEvent / JobEvent.
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEventError(f"the body is not JSON: {exc}", status=400) from exc
    if not isinstance(payload, dict):
        raise InvalidEventError(f"an OpenLineage event is a JSON object, got {type(payload).__name__}", status=400)
    model = _model_for(payload)
    errors: list[dict[str, Any]] = []
    if json_schema is not None:
        errors += [
            {"loc": list(e.absolute_path), "msg": e.message, "type": f"jsonschema.{e.validator}"}
            for e in json_schema.iter_errors(payload)
        ]
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        errors += [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    if errors:
        raise InvalidEventError(f"not a valid OpenLineage {model.__name__}: {len(errors)} error(s)", errors=errors)
    return event, payload
