"""The contract stage of landing: what a table's Lander does with its contract before committing a batch.

It validates the batch (fast path where the contract allows, per-row pydantic otherwise), follows the table's
schema evolution (``evolve``) and records each evolved schema as an *inferred* contract version in the registry, so
that the rows, ``_loads`` and each commit name the version that describes them.

Lifecycle: construct → :meth:`ContractStage.open` with the table's schema (once the table exists) →
:meth:`ContractStage.validate` per batch. Blocking (registry I/O): call from the Lander's worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from contracts import Contract
from contracts.evolve import EvolvedColumn, evolved_columns_of, evolved_json_schema
from contracts.modes import ResolvedModes, resolve_modes
from contracts.registry import ContractRegistry, ContractVersion
from contracts.threshold import QuarantineThreshold, check_threshold
from contracts.validate import ValidationResult, accepted_schema, validate_batch
from streamproc.lineage.columns import with_lineage_schema

__all__ = ["ContractStage"]


class ContractStage:
    """Validation and evolution for one contract landing into one table.

    Args:
        contract: the declared contract class.
        modes: the modes in force (field > contract > pipeline config).
        registry: where inferred versions are recorded; without one, rows keep the declared version.
        quarantine_threshold: the pipeline config's threshold; the contract's own wins.
    """

    def __init__(
        self,
        contract: type[Contract],
        *,
        modes: ResolvedModes | None = None,
        registry: ContractRegistry | None = None,
        quarantine_threshold: QuarantineThreshold | None = None,
    ) -> None:
        self.contract = contract
        self.modes = modes or resolve_modes(contract)
        self.registry = registry
        self.threshold = contract.__contract__.quarantine_threshold or quarantine_threshold
        self.declared = ContractVersion.of(contract)
        self.current = self.declared
        self.evolved: dict[str, EvolvedColumn] = {}

    @property
    def version(self) -> int:
        """The contract version the landed rows follow: the declared one, or the inferred one after ``evolve``."""
        return self.current.version

    @property
    def schema_hash(self) -> str:
        return self.current.schema_hash

    def table_schema(self) -> pa.Schema:
        """The table's schema as the contract compiles it (nullable where types may evolve), with lineage."""
        return with_lineage_schema(accepted_schema(self.contract, self.modes))

    def open(self, table_schema: pa.Schema) -> None:
        """Learn the evolved columns an existing table already has, and the version that describes them."""
        self.evolved = evolved_columns_of(table_schema)
        if self.evolved:
            self._record_evolution()

    def validate(self, payloads: Sequence[bytes | None]) -> ValidationResult:
        """Validate a batch; columns it adds become known and a new inferred version is recorded.

        Raises:
            ContractFrozenError: an event violated a ``freeze`` entity.
            QuarantineThresholdExceeded: more of the batch would be quarantined than the threshold allows (checked
                before anything is recorded).
        """
        result = validate_batch(self.contract, payloads, modes=self.modes, evolved=self.evolved)
        check_threshold(result, len(payloads), self.threshold)
        if result.new_columns:
            self.evolved.update({c.name: c for c in result.new_columns})
            self._record_evolution()
        return result

    def _record_evolution(self) -> None:
        if self.registry is None:
            return
        parent = self.registry.get(self.declared.name, self.declared.version)
        schema = evolved_json_schema(self.declared.json_schema, self.evolved.values())
        self.current = self.registry.register_inferred(self.declared.name, schema, parent=parent)
