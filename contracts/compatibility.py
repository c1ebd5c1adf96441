"""Compatibility levels, as Confluent Schema Registry defines them, checked between contract versions.

==========================  ===========================================================================
level                       a new version must be …
==========================  ===========================================================================
``BACKWARD`` (default)      backward compatible with the latest earlier version (old events validate)
``BACKWARD_TRANSITIVE``     … with every earlier version
``FORWARD``                 forward compatible with the latest earlier version (new events validate under it)
``FORWARD_TRANSITIVE``      … with every earlier version
``FULL``                    both, with the latest earlier version
``FULL_TRANSITIVE``         both, with every earlier version
``NONE``                    not checked
==========================  ===========================================================================

What each field change keeps is decided in :mod:`contracts.diff`. A verdict lists one reason per incompatible
field change, naming the field and the versions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from contracts.diff import FieldChange, diff_schemas

__all__ = ["CompatibilityLevel", "COMPATIBILITY_LEVELS", "Verdict", "SchemaVersion", "check_compatibility"]

CompatibilityLevel = Literal[
    "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"
]
COMPATIBILITY_LEVELS: tuple[str, ...] = get_args(CompatibilityLevel)


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version as compatibility sees it: its number, JSON Schema and whether its reader is open.

    Attributes:
        open: undeclared keys do not reject an event (``columns`` mode ``evolve`` or ``discard_value``).
    """

    version: int
    json_schema: Mapping[str, Any]
    open: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a compatibility check.

    Attributes:
        level: the level checked.
        compatible: no incompatible change (always true for ``NONE`` or a first version).
        checked_against: the earlier versions compared with.
        reasons: one line per incompatible change: ``v2 vs v1: field 'amount': type changed from number to
            string (breaks BACKWARD: events valid under v1 are rejected by v2)``.
    """

    level: CompatibilityLevel
    compatible: bool
    checked_against: tuple[int, ...]
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        """``compatible``, ``incompatible`` or ``not_checked`` (what the ``_contracts`` table records)."""
        if not self.checked_against:
            return "not_checked"
        return "compatible" if self.compatible else "incompatible"


def check_compatibility(
    new: SchemaVersion, earlier: Sequence[SchemaVersion], level: CompatibilityLevel
) -> Verdict:
    """Check ``new`` against ``earlier`` versions (any order) at ``level``.

    Raises:
        ValueError: an unknown level.
    """
    if level not in COMPATIBILITY_LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}; expected one of {', '.join(COMPATIBILITY_LEVELS)}")
    previous = sorted((v for v in earlier if v.version < new.version), key=lambda v: v.version)
    if level == "NONE" or not previous:
        return Verdict(level, True, (), ())
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    need_backward = level.startswith(("BACKWARD", "FULL"))
    need_forward = level.startswith(("FORWARD", "FULL"))
    reasons: list[str] = []
    for old in against:
        for change in diff_schemas(old.json_schema, new.json_schema, old_open=old.open, new_open=new.open):
            reasons.extend(_reasons(change, old.version, new.version, need_backward, need_forward))
    return Verdict(level, not reasons, tuple(v.version for v in against), tuple(reasons))


def _reasons(change: FieldChange, old: int, new: int, backward: bool, forward: bool) -> list[str]:
    found = []
    if backward and not change.backward:
        found.append(
            f"v{new} vs v{old}: {change.describe()} (breaks BACKWARD: events valid under v{old} are rejected by v{new})"
        )
    if forward and not change.forward:
        found.append(
            f"v{new} vs v{old}: {change.describe()} (breaks FORWARD: events valid under v{new} are rejected by v{old})"
        )
    return found
