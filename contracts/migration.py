"""Declaring a migration on a contract version: ``@migration`` (see :mod:`contracts.upcast` for how it is used)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

__all__ = ["Migration", "migration", "declared_migration"]

Migration = Callable[[dict[str, Any]], dict[str, Any]]
_F = TypeVar("_F", bound=Migration)
_MARK = "__contract_migration_from__"


@overload
def migration(func: _F) -> staticmethod: ...  # type: ignore[type-arg]
@overload
def migration(*, from_version: int) -> Callable[[_F], staticmethod]: ...  # type: ignore[type-arg]
def migration(func: Migration | None = None, *, from_version: int | None = None) -> Any:
    """Mark a function in a contract class as the migration of an event from ``from_version`` (default: the
    previous version) to this one. It receives a copy of the event (a JSON object as a dict) and returns the
    migrated event; it may raise to reject an event it cannot migrate."""

    def mark(function: Migration) -> staticmethod:  # type: ignore[type-arg]
        setattr(function, _MARK, from_version if from_version is not None else -1)
        return staticmethod(function)

    return mark(func) if func is not None else mark


def declared_migration(namespace: Mapping[str, Any], version: int) -> tuple[int, Migration] | None:
    """The ``(from_version, function)`` a class body declares with :func:`migration`, if any."""
    for value in namespace.values():
        function = value.__func__ if isinstance(value, staticmethod) else None
        if function is not None and hasattr(function, _MARK):
            source = getattr(function, _MARK)
            return (version - 1 if source == -1 else source), function
    return None
