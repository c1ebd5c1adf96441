"""Errors of the contracts SDK.

```
ContractError                      root: anything raised by ``contracts``
├── ContractDeclarationError       a contract class is declared wrongly (stop: fix the code)
├── ContractNotFoundError          ``module:Class`` does not name an importable contract (stop: fix the config)
├── UnsupportedTypeError           a field's type has no Arrow mapping (stop: fix the contract)
└── ContractFrozenError            an event violates an entity in ``freeze`` mode (stop: by design)
```

An invalid event is *data* (a :class:`contracts.validate.Rejection`), never an exception, except under
``freeze`` where stopping is the point (STYLE rule 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contracts.validate import Rejection

__all__ = [
    "ContractError",
    "ContractDeclarationError",
    "ContractNotFoundError",
    "UnsupportedTypeError",
    "ContractFrozenError",
]


class ContractError(Exception):
    """Root of every error raised by the contracts SDK."""


class ContractDeclarationError(ContractError):
    """A contract class is declared with missing or invalid metadata (name, version, modes, tags)."""


class ContractNotFoundError(ContractError):
    """A ``module:Class`` reference does not resolve to a :class:`contracts.Contract` subclass."""


class UnsupportedTypeError(ContractError):
    """A field's annotation cannot be compiled to an Arrow type."""


class ContractFrozenError(ContractError):
    """An event violates an entity whose mode is ``freeze`` (dlt's freeze semantics: stop, land nothing).

    Carries the evidence: the rejection (every violation, its entity and mode, and the event's index in the batch)
    so the caller can add the source coordinates (topic/partition/offset) it knows.
    """

    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection
        first = next((v for v in rejection.violations if v.mode == "freeze"), rejection.violations[0])
        super().__init__(
            f"contract {rejection.contract_name!r} v{rejection.contract_version} is frozen on "
            f"{first.entity!r}: field {first.loc or '<event>'!r}: {first.message} (type={first.type}), "
            f"event #{rejection.index} of the batch"
        )
        self.violation = first
