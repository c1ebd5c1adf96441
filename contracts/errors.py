"""Errors of the contracts SDK.

```
ContractError                      root: anything raised by ``contracts``
├── ContractDeclarationError       a contract class is declared wrongly (stop: fix the code)
├── ContractNotFoundError          ``module:Class`` does not name an importable contract (stop: fix the config)
├── UnsupportedTypeError           a field's type has no Arrow mapping (stop: fix the contract)
├── ContractFrozenError            an event violates an entity in ``freeze`` mode (stop: by design)
├── ContractConflictError          a registered version's schema changed without a new version number (stop)
├── IncompatibleContractError      a new version breaks its compatibility level (stop: fix or change the level)
└── RegistryConflictError          another process registered the same version first (retry after reloading)
```

An invalid event is *data* (a :class:`contracts.results.Rejection`), never an exception, except under
``freeze`` where stopping is the point (STYLE rule 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contracts.compatibility import Verdict
    from contracts.results import Rejection

__all__ = [
    "ContractError",
    "ContractDeclarationError",
    "ContractNotFoundError",
    "UnsupportedTypeError",
    "ContractFrozenError",
    "ContractConflictError",
    "IncompatibleContractError",
    "RegistryConflictError",
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
            f"{first.entity!r}: field {first.loc or '<event>'!r}: {first.message} (type={first.type}"
            f"{f', value type {first.value_type}' if first.value_type else ''}), "
            f"event #{rejection.index} of the batch"
        )
        self.violation = first

    def __reduce__(self) -> tuple[type[ContractFrozenError], tuple[Rejection]]:
        # Rebuilt from its evidence, not its message, so it crosses process boundaries (contracts.parallel).
        return type(self), (self.rejection,)


class ContractConflictError(ContractError):
    """A contract version's schema differs from the one registered under the same name and version (or two
    classes in the code declare the same name and version differently): declare a new version instead.

    Attributes:
        summary: what conflicts and what to do, without the reasons.
        name, version: the contract version (``None`` when not one version's problem).
        reasons: one line per field change from the registered schema to the declared one (``field 'amount': type
            changed from number to string``), as :class:`IncompatibleContractError` gives them.
    """

    def __init__(
        self, summary: str, *, name: str | None = None, version: int | None = None, reasons: tuple[str, ...] = ()
    ) -> None:
        self.summary = summary
        self.name = name
        self.version = version
        self.reasons = reasons
        super().__init__(f"{summary}. Changes: {'; '.join(reasons)}" if reasons else summary)


class IncompatibleContractError(ContractError):
    """A new contract version breaks the compatibility level it declares (Confluent's levels).

    Attributes:
        name, version: the rejected version.
        verdict: the :class:`contracts.compatibility.Verdict`, with one reason per incompatible field.
    """

    def __init__(self, name: str, version: int, verdict: Verdict) -> None:
        self.name = name
        self.version = version
        self.verdict = verdict
        super().__init__(
            f"contract {name!r} v{version} is not {verdict.level} compatible: " + "; ".join(verdict.reasons)
            + f". Make v{version} compatible, declare the level it keeps (compatibility=...), or start a new"
            " compatibility group with a @migration from the version before it"
        )

    def __reduce__(self) -> tuple[type[IncompatibleContractError], tuple[str, int, Verdict]]:
        return type(self), (self.name, self.version, self.verdict)


class RegistryConflictError(ContractError):
    """Another process registered a version of the same contract while this one was registering (optimistic
    concurrency); reload the registry and retry."""
