"""Finding contract classes: in packages (walked recursively), single modules, and the installed distributions'
``streamproc.contracts`` entry points (an entry point names a module or a contract class)."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
from collections.abc import Sequence
from types import ModuleType

from contracts.declare import Contract
from contracts.errors import ContractNotFoundError
from contracts.loader import import_contracts_module

__all__ = ["ENTRY_POINT_GROUP", "discover_contracts", "contracts_in_module"]

ENTRY_POINT_GROUP = "streamproc.contracts"


def discover_contracts(
    *, packages: Sequence[str] = (), modules: Sequence[str] = (), entry_points: bool = True
) -> list[type[Contract]]:
    """The contract classes in ``packages`` (walked recursively), ``modules`` and, if ``entry_points``, the
    ``streamproc.contracts`` entry points, in that order (a class found twice is listed twice).

    Raises:
        ContractNotFoundError: a package, module or entry point cannot be imported, or an entry point is neither a
            module nor a contract class.
    """
    found: list[type[Contract]] = []
    for package in packages:
        module = _import(package)
        found.extend(contracts_in_module(module))
        for sub in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=f"{module.__name__}."):
            found.extend(contracts_in_module(_import(sub.name)))
    for name in modules:
        found.extend(contracts_in_module(_import(name)))
    if entry_points:
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = point.load()
            except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is a config problem
                raise ContractNotFoundError(f"entry point {point.name!r} ({point.value}): {exc}") from exc
            if isinstance(loaded, ModuleType):
                found.extend(contracts_in_module(loaded))
            elif isinstance(loaded, type) and issubclass(loaded, Contract):
                found.append(loaded)
            else:
                raise ContractNotFoundError(
                    f"entry point {point.name!r} ({point.value}) is neither a module nor a contract class"
                )
    return found


def contracts_in_module(module: ModuleType) -> list[type[Contract]]:
    """The contract classes a module defines (not those it imports)."""
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, Contract)
        and value is not Contract
        and value.__module__ == module.__name__
        and hasattr(value, "__contract__")
    ]


def _import(name: str) -> ModuleType:
    return import_contracts_module(name, what=f"contracts module {name!r}")
