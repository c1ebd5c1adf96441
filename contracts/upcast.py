"""Upcasting: events written under an older contract version are migrated to the current one before validation.

A contract version declares how to migrate an event from the previous version with :func:`migration`::

    class OrderV2(Contract, name="orders", version=2):
        amount_cents: int

        @migration                      # from version 1 (the previous one); or @migration(from_version=1)
        def from_v1(event: dict) -> dict:
            event["amount_cents"] = round(event.pop("amount") * 100)
            return event

An event that says it was written under version 1 (see :func:`event_version`: a Kafka header, or a field) is
passed through every migration from v1 up to the pipeline's version, then validated as usual. A missing step, a
migration that raises, or an event from a *newer* version is a :class:`UpcastError`; the caller quarantines the
event with it (nothing is dropped).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from contracts.declare import Contract
from contracts.errors import ContractError
from contracts.migration import Migration, migration

__all__ = ["migration", "Migration", "Upcaster", "UpcastError", "event_version"]


class UpcastError(ContractError):
    """An event cannot be migrated to the pipeline's contract version (treated as bad data, quarantined)."""


class Upcaster:
    """Migrates events of older versions of a contract up to ``target``.

    Args:
        target: the contract events must end up in.
        versions: every declared class of the same contract name (e.g. from the registry), any order.
    """

    def __init__(self, target: type[Contract], versions: Iterable[type[Contract]]) -> None:
        self.target = target
        self.version = target.__contract__.version
        self._steps: dict[int, tuple[int, Migration]] = {}  # from version → (to version, function)
        for contract in [*versions, target]:
            info = contract.__contract__
            if info.name != target.__contract__.name or info.version > self.version or info.migration is None:
                continue
            source, function = info.migration
            self._steps[source] = (info.version, function)

    def reaches(self, from_version: int) -> bool:
        """Whether an event of ``from_version`` can be migrated to the target: a step is declared from it and from
        every version it leads to (the target itself reaches trivially; a newer version never does)."""
        current = from_version
        while current < self.version:
            step = self._steps.get(current)
            if step is None:
                return False
            current = step[0]
        return current == self.version

    def upcast(self, event: dict[str, Any], from_version: int) -> dict[str, Any]:
        """``event`` (written under ``from_version``) migrated to the target version; unchanged if current.

        Raises:
            UpcastError: a newer version, a missing migration step, or a migration that raised.
        """
        name = self.target.__contract__.name
        if from_version > self.version:
            raise UpcastError(
                f"the event was written under {name!r} v{from_version}, newer than this pipeline's v{self.version}"
            )
        current = from_version
        document = copy.deepcopy(event)
        while current < self.version:
            step = self._steps.get(current)
            if step is None:
                raise UpcastError(
                    f"no migration of {name!r} from v{current}: declare @migration(from_version={current}) on a "
                    f"later version (events of v{from_version} must reach v{self.version})"
                )
            target_version, function = step
            try:
                document = function(document)
            except Exception as exc:  # noqa: BLE001 - a user's migration failing is bad data, reported as such
                raise UpcastError(
                    f"the migration of {name!r} v{current} → v{target_version} failed: {type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(document, dict):
                raise UpcastError(f"the migration of {name!r} v{current} → v{target_version} did not return a dict")
            current = target_version
        return document


def event_version(header_value: bytes | None, document: Mapping[str, Any] | None, field: str | None) -> int | None:
    """The contract version an event says it was written under: the header's value, else ``document[field]``.

    Raises:
        UpcastError: the header or field is present but not a positive integer.
    """
    raw: Any = None
    where = ""
    if header_value is not None:
        raw, where = header_value.decode("ascii", "replace").strip(), "header"
    elif field is not None and document is not None and field in document:
        raw, where = document[field], f"field {field!r}"
    if raw is None:
        return None
    try:
        version = int(raw)
    except (TypeError, ValueError):
        raise UpcastError(f"the contract version in the event's {where} is not an integer: {raw!r}") from None
    if isinstance(raw, bool) or version < 1:
        raise UpcastError(f"the contract version in the event's {where} is not a positive integer: {raw!r}")
    return version
