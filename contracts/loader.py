"""Resolving a ``module:Class`` reference to a contract class."""

from __future__ import annotations

import importlib

from contracts.declare import Contract
from contracts.errors import ContractNotFoundError

__all__ = ["load_contract"]


def load_contract(reference: str) -> type[Contract]:
    """Import ``package.module:ClassName`` and return the contract class.

    Raises:
        ContractNotFoundError: malformed reference, module not importable, no such attribute, or not a contract.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ContractNotFoundError(f"contract reference {reference!r} must look like 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContractNotFoundError(f"cannot import module {module_name!r} for contract {reference!r}: {exc}") from exc
    candidate = getattr(module, attribute, None)
    if candidate is None:
        raise ContractNotFoundError(f"module {module_name!r} has no attribute {attribute!r}")
    if not (isinstance(candidate, type) and issubclass(candidate, Contract)):
        raise ContractNotFoundError(f"{reference!r} is not a contracts.Contract subclass")
    return candidate
