"""Validating a batch of raw events against a contract: accepted rows as Arrow, rejections as data.

This is the per-row pydantic path (``model_validate_json`` per event): it gives pydantic's exact error for every
violation. Each violation is classified by entity (an undeclared field is ``columns``; a wrong, missing or null
value is ``data_type``; a payload that is not a UTF-8 JSON object is ``payload``) and the contract's mode for that
entity decides what happens:

- ``freeze``: :class:`ContractFrozenError` is raised; nothing of the batch is accepted (dlt's freeze).
- ``discard_row``: the event is rejected (dlt's discard_row), and quarantined by the caller.
- ``discard_value``: the offending top-level values are removed (an undeclared field is omitted; a bad value is set
  to null, which works only where the field is nullable, otherwise the row is discarded) and the event is accepted;
  the caller quarantines a record of what was removed (dlt drops it silently; we never do).
- ``evolve``: not implemented by this path yet: treated as ``discard_row`` so that nothing is lost.

Malformed payloads (not UTF-8, not JSON, not an object) are always rejected with disposition ``malformed``,
whatever the modes: a contract cannot judge what it cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
from pydantic import ValidationError

from contracts.arrow import contract_arrow_schema
from contracts.declare import Contract
from contracts.errors import ContractFrozenError
from contracts.modes import SEVERITY, Entity, ModeName, ResolvedModes, resolve_modes

__all__ = ["Violation", "Rejection", "Disposition", "ValidationResult", "validate_batch"]

Disposition = Literal["row_discarded", "value_discarded", "malformed"]


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason an event broke its contract.

    Attributes:
        loc: dotted path of the offending field (``items.0.sku``); empty for the whole event.
        type: pydantic's error type (``int_parsing``, ``missing``, ``extra_forbidden``...) or one of
            ``utf8_invalid``, ``json_invalid``, ``not_an_object`` for malformed payloads.
        message: pydantic's human-readable message.
        entity: ``columns``, ``data_type`` or ``payload``.
        mode: the mode that applied to the entity; ``None`` for ``payload``.
    """

    loc: str
    type: str
    message: str
    entity: Entity | Literal["payload"]
    mode: ModeName | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event (or part of one) that did not land as sent.

    Attributes:
        index: the event's position in the validated batch (pair it with its source coordinates).
        contract_name, contract_version: the contract that judged it.
        violations: every violation found, in pydantic's order.
        disposition: ``row_discarded`` (not landed), ``value_discarded`` (landed without the offending values,
            which are listed in ``removed``), or ``malformed`` (not landed).
        removed: the removed top-level values for ``value_discarded``: field → original value.
    """

    index: int
    contract_name: str
    contract_version: int
    violations: tuple[Violation, ...]
    disposition: Disposition
    removed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdicts on one batch.

    Attributes:
        accepted: the landed rows, with the contract's Arrow schema (:func:`contract_arrow_schema`).
        accepted_index: for each accepted row, its event's position in the batch (ascending).
        rejected: one :class:`Rejection` per rejected or value-discarded event (ascending index). A
            ``value_discarded`` event is in both ``accepted`` and ``rejected``.
    """

    accepted: pa.Table
    accepted_index: list[int]
    rejected: list[Rejection]


def validate_batch(
    contract: type[Contract], payloads: Sequence[bytes | None], *, modes: ResolvedModes | None = None
) -> ValidationResult:
    """Validate raw JSON payloads (one event each) against ``contract``.

    Args:
        contract: the contract class.
        payloads: the raw event bytes, e.g. Kafka record values; ``None`` (a tombstone) is malformed.
        modes: the modes in force (:func:`contracts.modes.resolve_modes`: field > contract > pipeline config);
            default: the contract's own, without a pipeline config.

    Returns:
        A :class:`ValidationResult`; ``len(accepted) + (row_discarded + malformed rejections) == len(payloads)``.

    Raises:
        ContractFrozenError: the first event that violates an entity in ``freeze`` mode, with the evidence.
    """
    modes = modes or resolve_modes(contract)
    rows: list[dict[str, Any]] = []
    accepted_index: list[int] = []
    rejected: list[Rejection] = []
    for index, payload in enumerate(payloads):
        verdict = _validate_one(contract, index, payload, modes)
        if isinstance(verdict, Rejection):
            if any(v.mode == "freeze" for v in verdict.violations):
                raise ContractFrozenError(verdict)
            rejected.append(verdict)
            if verdict.disposition != "value_discarded":
                continue
            model = contract.model_validate(_without(json.loads(payload or b"{}"), verdict.removed))
        else:
            model = verdict
        rows.append(model.model_dump(mode="python"))
        accepted_index.append(index)
    accepted = pa.Table.from_pylist(rows, schema=contract_arrow_schema(contract))
    return ValidationResult(accepted=accepted, accepted_index=accepted_index, rejected=rejected)


def _validate_one(
    contract: type[Contract], index: int, payload: bytes | None, modes: ResolvedModes
) -> Contract | Rejection:
    info = contract.__contract__
    try:
        return contract.model_validate_json(payload if payload is not None else b"")
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    malformed = _malformed(payload, errors)
    if malformed is not None:
        return Rejection(index, info.name, info.version, (malformed,), "malformed")
    violations: list[Violation] = []
    for error in errors:
        entity: Entity = "columns" if error["type"] == "extra_forbidden" else "data_type"
        loc = ".".join(str(part) for part in error["loc"])
        violations.append(Violation(loc, error["type"], error["msg"], entity, modes.for_loc(error["loc"], entity)))
    # The harshest mode among an event's violations decides its fate (freeze > discard_row > discard_value).
    harshest = max((v.mode for v in violations if v.mode), key=SEVERITY.__getitem__)
    if harshest == "discard_value":
        removed = _discardable_values(contract, payload, violations)
        if removed is not None:
            return Rejection(index, info.name, info.version, tuple(violations), "value_discarded", removed)
    return Rejection(index, info.name, info.version, tuple(violations), "row_discarded")


def _malformed(payload: bytes | None, errors: list[Any]) -> Violation | None:
    if payload is None:
        return Violation("", "json_invalid", "a null payload (tombstone) is not an event", "payload", None)
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Violation("", "utf8_invalid", f"payload is not valid UTF-8: {exc}", "payload", None)
    for error in errors:
        if error["type"] == "json_invalid":
            return Violation("", "json_invalid", error["msg"], "payload", None)
        if error["type"] == "model_type" and not error["loc"]:
            return Violation("", "not_an_object", "an event must be a JSON object", "payload", None)
    return None


def _discardable_values(
    contract: type[Contract], payload: bytes | None, violations: list[Violation]
) -> dict[str, Any] | None:
    """The top-level values to remove so the event validates, or ``None`` when removing them is not enough."""
    document = json.loads(payload or b"{}")
    removed = {}
    for violation in violations:
        key = violation.loc.split(".", 1)[0]
        if key in document:
            removed[key] = document[key]
    try:
        contract.model_validate(_without(document, removed))
    except ValidationError:
        return None
    return removed


def _without(document: dict[str, Any], removed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in removed}
