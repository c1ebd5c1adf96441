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
    from contracts.results import Rejection, Violation

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
        self.violation = first
        super().__init__(f"{self.summary}, event #{rejection.index} of the batch")

    @property
    def summary(self) -> str:
        """What froze, without where: ``contract 'orders' v1 is frozen on 'data_type': field 'amount': Input should
        be a valid number (type=float_type, sent a string; also 'coupon': extra_forbidden)``; an
        undeclared key reads ``field 'coupon' is not declared by the contract``."""
        rejection, first = self.rejection, self.violation
        others = [v for v in rejection.violations if v is not first]
        more = ""
        if others:
            more = "; also " + ", ".join(f"{v.loc or '<event>'!r}: {v.type}" for v in others[:_LISTED])
            more += f" and {len(others) - _LISTED} more" if len(others) > _LISTED else ""
        return (
            f"contract {rejection.contract_name!r} v{rejection.contract_version} is frozen on {first.entity!r}: "
            f"{_what(first)} ({_evidence(first)}{more})"
        )

    def __reduce__(self) -> tuple[type[ContractFrozenError], tuple[Rejection]]:
        # Rebuilt from its evidence, not its message, so it crosses process boundaries (contracts.parallel).
        return type(self), (self.rejection,)


_LISTED = 3  # other violations named in a freeze's message; the quarantine-like evidence is on the error


def _what(violation: Violation) -> str:
    if violation.type == "extra_forbidden":  # pydantic's "Extra inputs are not permitted" names no field
        return f"field {violation.loc!r} is not declared by the contract"
    return f"field {violation.loc or '<event>'!r}: {violation.message}"


def _evidence(violation: Violation) -> str:
    if violation.value_type in (None, "missing"):  # "Field required" says it was missing
        return f"type={violation.type}"
    article = "an" if violation.value_type[0] in "aeiou" else "a"
    sent = "null" if violation.value_type == "null" else f"{article} {violation.value_type}"
    return f"type={violation.type}, sent {sent}"


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
