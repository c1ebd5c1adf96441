"""Resolving a ``module:Class`` reference to a contract class."""

from __future__ import annotations

import importlib
import traceback
from types import ModuleType

from contracts.declare import Contract
from contracts.errors import ContractError, ContractNotFoundError

__all__ = ["import_contracts_module", "load_contract"]


def load_contract(reference: str) -> type[Contract]:
    """Import ``package.module:ClassName`` and return the contract class.

    Raises:
        ContractNotFoundError: malformed reference, module not importable (missing, or failing as it runs: a syntax
            error, a model pydantic refuses), no such attribute, or not a contract.
        ContractDeclarationError: a contract in the module is declared wrong.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ContractNotFoundError(f"contract reference {reference!r} must look like 'package.module:ClassName'")
    module = import_contracts_module(module_name, what=f"module {module_name!r} for contract {reference!r}")
    candidate = getattr(module, attribute, None)
    if candidate is None:
        raise ContractNotFoundError(f"module {module_name!r} has no attribute {attribute!r}")
    if not (isinstance(candidate, type) and issubclass(candidate, Contract)):
        raise ContractNotFoundError(f"{reference!r} is not a contracts.Contract subclass")
    return candidate


def import_contracts_module(name: str, *, what: str) -> ModuleType:
    """Import the module ``name`` holding contracts (``what`` names it in an error).

    Any failure of the user's code as it is imported is a contract-loading error (``streamproc`` exits 2 with one
    line), not a traceback: a missing module, and as much a syntax error, a ``NameError`` or a model pydantic
    refuses, with the file and line where the module failed.

    Raises:
        ContractNotFoundError: the module is missing or raised as it was imported.
        ContractError: raised by the module itself (e.g. ``ContractDeclarationError``): as it is.
    """
    try:
        return importlib.import_module(name)
    except ContractError:
        raise
    except ImportError as exc:
        raise ContractNotFoundError(f"cannot import {what}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - the user's module failing as it runs is a contract-loading error
        raise ContractNotFoundError(f"cannot import {what}: {_failure(exc)}") from exc


def _failure(exc: Exception) -> str:
    """``SyntaxError: invalid syntax (shop.py, line 46)``; other errors with the innermost frame of a file of the
    user's (not of pydantic's or importlib's)."""
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    own = [f for f in frames if "site-packages" not in f.filename] or frames
    where = f" ({own[-1].filename}, line {own[-1].lineno})" if own else ""
    return f"{type(exc).__name__}: {exc}{where}"
