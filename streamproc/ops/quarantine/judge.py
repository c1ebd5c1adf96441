"""Re-validating quarantined events against a route's contract as it is now: the replay's verdicts.

The pipeline's contract stage does the work (:class:`~streamproc.validation.stage.ContractStage`: upcasting by
``upcast.field``, validation with the route's modes, ``evolve``), with four differences a quarantine calls for:

- **Which version an event was written under.** The quarantine keeps no Kafka headers, so an event is taken as
  written under the version that refused it (the row's ``contract_version``), unless its ``upcast.field`` says
  otherwise. An older one is migrated with the contract's ``@migration`` steps when they reach the current version
  (as the pipeline migrates an event of that version), and validated as it is when none are declared: a compatible
  change (a loosened constraint, a wider ``Literal``) needs none.
- **PII.** The quarantine holds payloads redacted by the contract's policy (:mod:`contracts.pii`). A hashed or masked
  value is already what the table holds: it lands as it is, never redacted twice. A value that cannot be judged again
  (a violation at a redacted field, before or now: the value sent is gone) keeps the event in quarantine with a
  ``pii_redacted`` violation; re-send such an event from its source.
- **No quarantine threshold**: the events are quarantined already.
- **freeze**: an event violating a ``freeze`` entity stays in quarantine with its violation instead of stopping the
  replay.

Blocking (validation, registry I/O): call from a worker thread in async code.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from contracts import Contract, ContractFrozenError
from contracts.errors import IncompatibleContractError
from contracts.registry import ContractRegistry
from contracts.upcast import UpcastError
from contracts.validate import Rejection, ValidationResult, Violation
from streamproc.batching.batcher import MicroBatch
from streamproc.config.resolve import Route
from streamproc.lineage.columns import append_lineage
from streamproc.ops.quarantine.rows import Key
from streamproc.records import SourceRecord
from streamproc.sinks.resolutions import Status
from streamproc.validation.stage import ContractStage, StageOptions, accepted_version

__all__ = ["Candidate", "Judgement", "ReplayJudge", "would_register"]

_INDEX = re.compile(r"\.\d+(?=\.|$)")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A quarantined event a replay takes.

    Attributes:
        key: the quarantine row's name (its ``_load_id`` and coordinates).
        source: its ``_source``; timestamp: its ``_source_timestamp``.
        raw_key, payload: its record key and payload as the quarantine holds them (redacted by the PII policy).
        refused_by, refused_hash: the contract version that refused it last, and its schema hash.
        prior: the violations it was refused with last (``loc``, ``type``, ... dicts).
    """

    key: Key
    source: str
    timestamp: dt.datetime | None
    raw_key: bytes | None
    payload: bytes | None
    refused_by: int
    refused_hash: str
    prior: tuple[Mapping[str, Any], ...]

    @property
    def size(self) -> int:
        return len(self.payload) if self.payload is not None else 0


@dataclass(frozen=True, slots=True)
class Judgement:
    """The verdicts on candidates, aligned with them.

    Attributes:
        statuses: ``replayed`` (it passes now) or ``still_failing``.
        violations: per candidate, why it still fails (for a replayed ``discard_value`` event: what was removed).
        landed: the rows that pass, with the lineage columns of their events (``_source``, ``_partition``,
            ``_offset`` of the event; ``_load_id``, ``_ingested_at``, ``_contract_version`` of this replay).
        landed_index: the candidate each landed row is, in order.
    """

    statuses: list[Status]
    violations: list[tuple[Violation, ...]]
    landed: pa.Table
    landed_index: list[int]


def would_register(registry: ContractRegistry, contract: type[Contract]) -> bool:
    """Whether the replay itself, which registers every declared version of ``contract``'s name first
    (``open_registry``), would register ``contract``'s version, which then counts as accepted: a dry run's registry
    registers nothing, and must refuse what the replay would refuse (not report rows that "would land" under a
    version the replay stops at) and judge the rest as the replay would (a new version's nullable columns joining
    the table). ``False`` when that version is registered already (``accepted_version`` decided).

    Raises:
        IncompatibleContractError: a declared, unregistered version breaks its compatibility level.
        ContractConflictError: a registered version changed without a new number.
    """
    name, version = contract.__contract__.name, contract.__contract__.version
    registers = False
    for declared in registry.declared(name):
        known = registry.get(name, declared.version)
        registered = known.registered_at is not None and known.schema_hash == declared.schema_hash
        if declared.contract is None or registered:
            continue
        verdict = registry.check(declared.contract)
        if not verdict.compatible:
            raise IncompatibleContractError(name, declared.version, verdict)
        registers = registers or declared.version == version
    return registers


class ReplayJudge:
    """Judges quarantined events against one route's contract as it is now (see the module docstring).

    Build with :meth:`for_route`; then :meth:`open` with the table's schema, then :meth:`judge` per chunk.

    Attributes:
        table_schema: the table's Arrow schema as the contract compiles it (PII applied), lineage included.
        accepted: the registry accepted this contract version at its compatibility level: its added nullable columns
            may join the existing table (as the pipeline adds them).
    """

    def __init__(
        self, stage: ContractStage, *, table_schema: pa.Schema, version_field: str | None, accepted: bool = False
    ) -> None:
        self.stage = stage
        self.table_schema = table_schema
        self.version_field = version_field
        self.accepted = accepted
        self.redacted = dict(stage.pii.actions)  # field path → hash / mask / drop
        stage.threshold = None
        # Hashed and masked values in quarantine payloads are redacted already; only dropped fields are removed.
        stage.pii = stage.pii.only("drop")

    @classmethod
    def for_route(
        cls, route: Route, *, registry: ContractRegistry, options: StageOptions, record: bool = True
    ) -> ReplayJudge:
        """The judge of ``route``'s contract; ``record=False`` (a dry run) records no inferred version (``evolve``)
        in the registry.

        Raises:
            ContractDeclarationError: the contract's PII policy cannot be applied (e.g. ``hash`` without a secret).
            IncompatibleContractError, ContractConflictError: (``record=False``) a declared version the registry
                has not registered would be refused by the replay that registers it.
        """
        stage = ContractStage(route.contract, modes=route.modes, registry=registry, options=options)
        schema = stage.table_schema()
        if not record:
            stage.registry = None
        accepted = accepted_version(registry, route.contract)
        if not record and not accepted:
            accepted = would_register(registry, route.contract)
        return cls(stage, table_schema=schema, version_field=options.version_field, accepted=accepted)

    @property
    def contract(self) -> tuple[str, int, str]:
        """The name, version and schema hash of the contract version judging (after ``evolve``: the inferred one)."""
        return (self.stage.contract.__contract__.name, self.stage.version, self.stage.schema_hash)

    def open(self, table_schema: pa.Schema) -> None:
        """Learn the columns the table evolved (its schema as it is in the Delta log)."""
        self.stage.open(table_schema)

    def judge(self, candidates: Sequence[Candidate], *, load_id: str, ingested_at: dt.datetime) -> Judgement:
        """Re-validate ``candidates``; the rows that pass get ``load_id`` and ``ingested_at`` as lineage."""
        statuses: list[Status] = ["still_failing"] * len(candidates)
        violations: list[tuple[Violation, ...]] = [()] * len(candidates)
        judged: list[int] = []
        payloads: list[bytes | None] = []
        for index, candidate in enumerate(candidates):
            if candidate.payload is None:
                # A tombstone, or a payload the PII policy withheld (not a JSON object): nothing to judge again, and
                # its refusal is about the payload, whatever the contract.
                violations[index] = tuple(_violation(v) for v in candidate.prior)
                continue
            unjudgeable = [v for v in candidate.prior if self._redacted(v.get("loc") or "")]
            if unjudgeable:
                violations[index] = tuple(self._unjudgeable(v.get("loc") or "") for v in unjudgeable)
                continue
            try:
                payloads.append(self._as_current(candidate))
            except UpcastError as exc:
                violations[index] = (Violation("", "upcast_failed", str(exc), "payload", None),)
                continue
            judged.append(index)
        result = self._validate([candidates[i] for i in judged], payloads)
        for rejection in result.rejected:
            index = judged[rejection.index]
            violations[index] = tuple(self._visible(v) for v in rejection.violations)
        accepted_at = [judged[i] for i in result.accepted_index]
        for index in accepted_at:
            statuses[index] = "replayed"
        landed = append_lineage(
            result.accepted,
            sources=pa.array([candidates[i].source for i in accepted_at], pa.string()),
            partitions=pa.array([candidates[i].key[2] for i in accepted_at], pa.int32()),
            offsets=pa.array([candidates[i].key[3] for i in accepted_at], pa.int64()),
            load_id=load_id,
            ingested_at=ingested_at,
            contract_version=self.stage.version,
        )
        return Judgement(statuses, violations, landed, accepted_at)

    def _validate(self, candidates: Sequence[Candidate], payloads: list[bytes | None]) -> ValidationResult:
        """The contract stage's verdicts; an event violating a ``freeze`` entity is taken out (refused with its
        violation) and the rest validated again."""
        frozen: dict[int, Rejection] = {}
        while True:
            keep = [i for i in range(len(candidates)) if i not in frozen]
            batch = MicroBatch.of(
                SourceRecord(
                    candidates[i].key[1],
                    candidates[i].key[2],
                    candidates[i].key[3],
                    payloads[i],
                    candidates[i].raw_key,
                    None if candidates[i].timestamp is None else int(candidates[i].timestamp.timestamp() * 1000),
                )
                for i in keep
            )
            try:
                result = self.stage.validate(batch)
            except ContractFrozenError as exc:
                original = keep[exc.rejection.index]
                frozen[original] = replace(exc.rejection, index=original)
                continue
            if not frozen:
                return result
            rejected = [replace(r, index=keep[r.index]) for r in result.rejected] + list(frozen.values())
            return replace(
                result,
                accepted_index=[keep[i] for i in result.accepted_index],
                rejected=sorted(rejected, key=lambda r: r.index),
            )

    def _as_current(self, candidate: Candidate) -> bytes | None:
        """The payload as an event of the current version: migrated from the version that refused it when the
        contract declares the steps (see the module docstring).

        Raises:
            UpcastError: a migration step failed.
        """
        upcaster, current = self.stage.upcaster, self.stage.version
        if candidate.refused_by >= self.stage.declared.version or not upcaster.reaches(candidate.refused_by):
            return candidate.payload
        try:
            document = json.loads(candidate.payload) if candidate.payload is not None else None
        except ValueError:
            return candidate.payload  # malformed: validation says so
        if not isinstance(document, dict):
            return candidate.payload
        if self.version_field is not None and self.version_field in document:
            return candidate.payload  # the event says its version: the stage upcasts it as the pipeline does
        migrated = upcaster.upcast(document, candidate.refused_by)
        if self.version_field is not None and self.version_field in self.stage.contract.model_fields:
            migrated[self.version_field] = current
        return json.dumps(migrated).encode()

    def _redacted(self, loc: str) -> str | None:
        """The PII-redacted field ``loc`` is at or inside (list indexes ignored), or ``None``."""
        path = _INDEX.sub("", loc)
        for field_path in self.redacted:
            if path == field_path or path.startswith(field_path + "."):
                return field_path
        return None

    def _unjudgeable(self, loc: str) -> Violation:
        field_path = self._redacted(loc) or loc
        return Violation(
            loc,
            "pii_redacted",
            f"the quarantine holds {field_path!r} redacted (PII action {self.redacted.get(field_path, 'drop')}), not "
            "as sent: it cannot be validated again; re-send the event from its source",
            "payload",
            None,
        )

    def _visible(self, violation: Violation) -> Violation:
        """A violation as the replay reports it: at a redacted field, ``pii_redacted`` (the redacted value was
        judged, not the one sent)."""
        return self._unjudgeable(violation.loc) if self._redacted(violation.loc) else violation


def _violation(stored: Mapping[str, Any]) -> Violation:
    """A violation as a quarantine or resolution row stores it."""
    return Violation(stored.get("loc") or "", stored["type"], stored["message"], stored["entity"], stored.get("mode"))
