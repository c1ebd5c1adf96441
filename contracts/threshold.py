"""The quarantine threshold: fail a load when too much of a batch would be quarantined.

Like Delta Live Tables' ``expect_or_fail`` expectations, but over a ratio: a few bad events are quarantined and the
stream goes on; a flood of them (a broken producer, a wrong contract) stops the pipeline before anything of the
batch is committed, so nothing is acknowledged and a restart after the fix continues with no loss.

A contract declares it with ``quarantine_threshold=5`` (percent) or ``QuarantineThreshold(5, min_events=100)``; the
pipeline config's ``quarantine_threshold:`` applies when the contract declares none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contracts.errors import ContractDeclarationError, ContractError

if TYPE_CHECKING:
    from contracts.results import ValidationResult

__all__ = ["QuarantineThreshold", "QuarantineThresholdExceeded", "ThresholdSpec", "check_threshold"]


@dataclass(frozen=True, slots=True)
class QuarantineThreshold:
    """Fail a load when more than ``max_percent`` of its events would be quarantined.

    Attributes:
        max_percent: 0–100; the share of a batch's events that may go to quarantine (any disposition: malformed,
            row discarded, value discarded).
        min_events: batches with fewer events are not judged (a single bad event in a tiny batch is not a flood).
    """

    max_percent: float
    min_events: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.max_percent <= 100:
            raise ContractDeclarationError(f"quarantine threshold {self.max_percent}% is not between 0 and 100")
        if self.min_events < 1:
            raise ContractDeclarationError(f"quarantine threshold min_events must be at least 1, not {self.min_events}")

    @classmethod
    def parse(cls, spec: ThresholdSpec | None) -> QuarantineThreshold | None:
        """From a percent, a mapping (``max_percent``, ``min_events``) or an instance.

        Raises:
            ContractDeclarationError: out of range, or an unknown key.
        """
        if spec is None or isinstance(spec, QuarantineThreshold):
            return spec
        if isinstance(spec, bool):
            raise ContractDeclarationError("a quarantine threshold is a percent, not a boolean")
        if isinstance(spec, int | float):
            return cls(float(spec))
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"max_percent", "min_events"}
            if unknown or "max_percent" not in spec:
                raise ContractDeclarationError(
                    f"a quarantine threshold takes max_percent and min_events, not {sorted(spec)}"
                )
            return cls(float(spec["max_percent"]), int(spec.get("min_events", 1)))
        raise ContractDeclarationError(f"a quarantine threshold must be a percent or a mapping, not {spec!r}")


ThresholdSpec = QuarantineThreshold | float | int | Mapping[str, Any]


class QuarantineThresholdExceeded(ContractError):
    """Too much of a batch would be quarantined; the load must not be committed.

    Attributes:
        quarantined, total: events that would be quarantined, events in the batch.
        threshold: the threshold that was exceeded.
        first_index: the first quarantined event's index in the batch (for its source coordinates).
    """

    def __init__(self, *, quarantined: int, total: int, threshold: QuarantineThreshold, first_index: int) -> None:
        self.quarantined = quarantined
        self.total = total
        self.threshold = threshold
        self.first_index = first_index
        super().__init__(
            f"{quarantined} of {total} events ({100 * quarantined / total:.1f}%) would be quarantined, above the "
            f"quarantine threshold of {threshold.max_percent:g}%"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor: rebuild through a helper so the error crosses process boundaries.
        return _rebuild_exceeded, (self.quarantined, self.total, self.threshold, self.first_index)


def _rebuild_exceeded(
    quarantined: int, total: int, threshold: QuarantineThreshold, first_index: int
) -> QuarantineThresholdExceeded:
    return QuarantineThresholdExceeded(
        quarantined=quarantined, total=total, threshold=threshold, first_index=first_index
    )


def check_threshold(result: ValidationResult, total: int, threshold: QuarantineThreshold | None) -> None:
    """Raise when ``result`` quarantines more than the threshold allows of ``total`` events.

    Raises:
        QuarantineThresholdExceeded: with the counts and the first quarantined event's index.
    """
    if threshold is None or total < threshold.min_events or not result.rejected:
        return
    quarantined = len(result.rejected)
    if 100 * quarantined / total > threshold.max_percent:
        raise QuarantineThresholdExceeded(
            quarantined=quarantined, total=total, threshold=threshold, first_index=result.rejected[0].index
        )
