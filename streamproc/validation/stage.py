"""The contract stage of landing: what a route's preparer does with its contract to a batch before it is committed.

Per batch: events written under an older contract version are upcast (:mod:`contracts.upcast`), the batch is
validated (fast path where the contract allows, per-row pydantic otherwise), the quarantine threshold is checked,
the PII policy is applied (:mod:`contracts.pii`; the quarantine's raw payloads through :meth:`redact_payload`),
and the table's schema evolution (``evolve``) is followed: each evolved schema is recorded as an *inferred* contract
version in the registry, so that the rows, ``_loads`` and each commit name the version that describes them.

Lifecycle: construct → :meth:`ContractStage.open` with the table's schema (once the table exists) →
:meth:`ContractStage.validate` per batch. Blocking (registry I/O): call from the preparer's worker thread.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from contracts import Contract, ContractNotFoundError, schema_hash
from contracts.evolve import EvolvedColumn, evolved_columns_of, evolved_json_schema
from contracts.modes import ResolvedModes, resolve_modes
from contracts.pii import PiiPolicy
from contracts.registry import ContractRegistry, ContractVersion
from contracts.threshold import QuarantineThreshold, check_threshold
from contracts.upcast import Upcaster, UpcastError, event_version
from contracts.validate import (
    Rejection,
    ValidationResult,
    Violation,
    accepted_schema,
    compile_contract,
    validate_batch,
)
from streamproc.lineage.columns import with_lineage_schema

if TYPE_CHECKING:
    from streamproc.validation.pool import ValidationPool
    from streamproc.batching.batcher import MicroBatch
    from streamproc.config import PipelineConfig

__all__ = ["ContractStage", "StageOptions", "accepted_version"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageOptions:
    """What the pipeline config says about contracts beyond their modes.

    Attributes:
        quarantine_threshold: the config's threshold; a contract's own wins.
        version_header: the Kafka header that carries an event's contract version (``None``: not read).
        version_field: the top-level field that carries it (``None``: not read; the header wins when both are set).
        pii_actions: tag → PII action, for the tags the contract leaves unset.
        pii_secret: the HMAC key of the ``hash`` action.
        pii_keep_unparseable: keep quarantined payloads that cannot be redacted by field (not JSON objects).
    """

    quarantine_threshold: QuarantineThreshold | None = None
    version_header: str | None = "contract-version"
    version_field: str | None = None
    pii_actions: dict[str, str] = field(default_factory=dict)
    pii_secret: bytes | None = field(default=None, repr=False)
    pii_keep_unparseable: bool = False

    @classmethod
    def from_config(cls, config: PipelineConfig) -> StageOptions:
        return cls(
            quarantine_threshold=QuarantineThreshold.parse(config.quarantine_threshold),
            version_header=config.upcast.header,
            version_field=config.upcast.field,
            pii_actions=dict(config.pii.actions),
            pii_secret=config.pii.secret.get_secret_value().encode() if config.pii.secret else None,
            pii_keep_unparseable=config.pii.keep_unparseable_in_quarantine,
        )


def accepted_version(registry: ContractRegistry | None, contract: type[Contract]) -> bool:
    """Whether the registry registered ``contract``'s version as it is declared, so accepted it at its compatibility
    level (``open_registry`` refuses a version that breaks it): its added nullable columns may join the table (the
    pipeline's landing and a quarantine replay alike)."""
    if registry is None:
        return False
    info = contract.__contract__
    try:
        known = registry.get(info.name, info.version)
    except ContractNotFoundError:
        return False
    return known.registered_at is not None and known.schema_hash == schema_hash(contract) and (
        known.verdict != "incompatible"
    )


class ContractStage:
    """Upcasting, validation and evolution for one contract landing into one table.

    Args:
        contract: the declared contract class.
        modes: the modes in force (field > contract > pipeline config).
        registry: where inferred versions are recorded and older versions (for upcasting) are found; without one,
            rows keep the declared version and only the contract's own class is known.
        options: the pipeline config's threshold and where events carry their version.
        pool: validate in these worker processes (:mod:`streamproc.validation.pool`) instead of in this one.
    """

    def __init__(
        self,
        contract: type[Contract],
        *,
        modes: ResolvedModes | None = None,
        registry: ContractRegistry | None = None,
        options: StageOptions | None = None,
        pool: ValidationPool | None = None,
    ) -> None:
        self.contract = contract
        self.pool = pool
        self.modes = modes or resolve_modes(contract)
        self.registry = registry
        self.options = options or StageOptions()
        info = contract.__contract__
        self.threshold = info.quarantine_threshold or self.options.quarantine_threshold
        self.declared = ContractVersion.of(contract)
        self.current = self.declared
        self.evolved: dict[str, EvolvedColumn] = {}
        older = [v.contract for v in registry.versions(info.name) if v.contract] if registry is not None else []
        self.upcaster = Upcaster(contract, older)
        self.pii = PiiPolicy.for_contract(
            contract,
            self.options.pii_actions,
            secret=self.options.pii_secret,
            keep_unparseable=self.options.pii_keep_unparseable,
        )

    @property
    def version(self) -> int:
        """The contract version the landed rows follow: the declared one, or the inferred one after ``evolve``."""
        return self.current.version

    @property
    def schema_hash(self) -> str:
        return self.current.schema_hash

    def table_schema(self) -> pa.Schema:
        """The table's schema as the contract compiles it (nullable where types may evolve; dropped PII fields
        removed, hashed ones as text), with lineage."""
        return with_lineage_schema(self.pii.redact_schema(accepted_schema(self.contract, self.modes)))

    def redact_payload(self, payload: bytes | None) -> bytes | None:
        """A raw event as the quarantine may keep it under the PII policy (``None``: withheld)."""
        return self.pii.redact_payload(payload)

    def compile(self) -> None:
        """Compile what validating in this process needs (the contract's fast plan and redecoder, cached per class)
        before the first batch; nothing with validation workers, which compile their own."""
        if self.pool is None:
            compile_contract(self.contract)

    def open(self, table_schema: pa.Schema) -> None:
        """Learn the evolved columns an existing table already has, and the version that describes them."""
        self.evolved = evolved_columns_of(table_schema)
        if self.evolved:
            self._record_evolution()

    def validate(self, batch: MicroBatch) -> ValidationResult:
        """Upcast and validate a batch; columns it adds become known and a new inferred version is recorded.

        Events the batch says were refused upstream (:attr:`MicroBatch.refused`: routing) are not validated; their
        rejections join the result.

        Returns:
            The verdicts, indexed by position in the batch.

        Raises:
            ContractFrozenError: an event violated a ``freeze`` entity.
            QuarantineThresholdExceeded: more of the batch would be quarantined than the threshold allows (checked
                before anything is recorded).
        """
        payloads, refused = self._upcast(batch)
        refused.update(batch.refused)
        if refused:
            keep = [i for i in range(len(payloads)) if i not in refused]
            result = _reindexed(self._validate([payloads[i] for i in keep]), keep, refused)
        else:
            result = self._validate(payloads)
        check_threshold(result, len(payloads), self.threshold)
        if result.new_columns:
            self.evolved.update({c.name: c for c in result.new_columns})
            self._record_evolution()
        if self.pii.active:  # before landing, in the table and in what quarantine keeps of removed values
            result = replace(
                result,
                accepted=self.pii.redact_table(result.accepted),
                rejected=[replace(r, removed=self.pii.redact_document(r.removed)) for r in result.rejected],
            )
        return result

    def _validate(self, payloads: list[bytes | None]) -> ValidationResult:
        """:func:`contracts.validate_batch`, in the pool's worker when there is a pool.

        A worker that dies is replaced and the batch tried once more (nothing was acknowledged); a second death on
        the same batch raises (a poison batch must stop the pipeline, not loop).
        """
        if self.pool is None:
            return validate_batch(self.contract, payloads, modes=self.modes, evolved=self.evolved)
        from streamproc.validation.pool import ValidationWorkerError  # imported with the pool, only when one is configured

        try:
            return self.pool.validate(self.contract, payloads, modes=self.modes, evolved=self.evolved)
        except ValidationWorkerError as exc:
            logger.warning("the validation worker died (%s); validating the batch again in a fresh one", exc)
            return self.pool.validate(self.contract, payloads, modes=self.modes, evolved=self.evolved)

    def _upcast(self, batch: MicroBatch) -> tuple[list[bytes | None], dict[int, Rejection]]:
        """Payloads with older-version events migrated, and the events that could not be (as rejections)."""
        payloads = batch.values()
        header, field = self.options.version_header, self.options.version_field
        headers = batch.headers() if header is not None else None
        if headers is None and field is None:
            return payloads, {}  # the usual case: nothing says an event is of another version
        info = self.contract.__contract__
        refused: dict[int, Rejection] = {}
        for index, value in enumerate(payloads):
            raw = _header(headers[index], header) if headers is not None and header is not None else None
            if raw is None and field is None:
                continue
            try:
                version = event_version(raw, None, None) if raw is not None else None
                if version == info.version:
                    continue
                document = _document(value)
                if document is None:
                    continue  # malformed: validation reports it
                if version is None:
                    version = event_version(None, document, field)
                if version is None or version == info.version:
                    continue
                migrated = self.upcaster.upcast(document, version)
            except UpcastError as exc:
                violation = Violation("", "upcast_failed", str(exc), "payload", None)
                refused[index] = Rejection(index, info.name, info.version, (violation,), "row_discarded")
                continue
            if field is not None and field in self.contract.model_fields:
                migrated[field] = info.version
            payloads[index] = json.dumps(migrated).encode()
        return payloads, refused

    def _record_evolution(self) -> None:
        if self.registry is None:
            return
        parent = self.registry.get(self.declared.name, self.declared.version)
        schema = evolved_json_schema(self.declared.json_schema, self.evolved.values())
        self.current = self.registry.register_inferred(self.declared.name, schema, parent=parent)


def _header(headers: tuple[tuple[str, bytes], ...], name: str) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _document(payload: bytes | None) -> dict[str, Any] | None:
    try:
        document = json.loads(payload) if payload is not None else None
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _reindexed(result: ValidationResult, kept: list[int], refused: dict[int, Rejection]) -> ValidationResult:
    """A result over ``kept`` events mapped back to batch positions, with the ``refused`` events added."""
    rejected = [replace(r, index=kept[r.index]) for r in result.rejected] + list(refused.values())
    return replace(
        result,
        accepted_index=[kept[i] for i in result.accepted_index],
        rejected=sorted(rejected, key=lambda r: r.index),
    )
