"""A contract version as the registry records it, and where the registry persists the versions it has seen.

A :class:`ContractVersion` is one row of the history (the runtime's ``_contracts`` Delta table,
:mod:`streamproc.sinks.contracts_table`): name, number, canonical JSON Schema and its hash, origin (declared in code,
or inferred by ``evolve``), compatibility level and verdict. The rules that decide which rows are written are
:mod:`contracts.registry`'s.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from contracts.compatibility import CompatibilityLevel, SchemaVersion
from contracts.declare import Contract
from contracts.fingerprint import canonical_json_schema, hash_json_schema

__all__ = ["ContractStore", "ContractVersion", "InMemoryContractStore", "Origin"]

Origin = Literal["declared", "inferred"]


@dataclass(frozen=True, slots=True)
class ContractVersion:
    """One version of a contract, as registered (or as declared in the code and not registered yet).

    Attributes:
        name, version: the contract's name and version number.
        schema_hash: ``sha256:…`` of the canonical JSON Schema (what decides which events are accepted and what
            lands, not its documentation: :mod:`contracts.fingerprint`).
        json_schema: the canonical JSON Schema (draft 2020-12, as pydantic emits it).
        origin: ``declared`` (a class in the code) or ``inferred`` (recorded by ``evolve`` from the data).
        registered_at: when it was registered; ``None`` while only declared in the code.
        compatibility: the level it was checked at.
        verdict: as recorded at registration: ``compatible``, ``incompatible`` (only inferred versions are recorded
            so) or ``not_checked`` (level ``NONE``, or nothing earlier in its compatibility group; also every version
            not registered yet). :meth:`ContractRegistry.verdict` judges it now.
        reasons: one line per incompatible field change.
        changes: the field changes from the previous version (:meth:`contracts.diff.FieldChange.as_dict`).
        parent_version: the version it evolved from (inferred versions), or the previous version.
        migrates_from: the version a declared ``@migration`` upcasts from: it starts a new compatibility group
            (as Confluent's ``compatibilityGroup`` with migration rules), so that version and earlier ones are not
            compared with this one or later ones; their events are upcast instead.
        modes: the contract's own mode per entity (decides whether its reader is open to undeclared keys).
        owner, description: as declared.
        tags: dotted field path → tag names (PII categories), for lineage.
        contract: the class, when declared in the code that loaded the registry.
    """

    name: str
    version: int
    schema_hash: str
    json_schema: dict[str, Any]
    origin: Origin
    registered_at: dt.datetime | None = None
    compatibility: CompatibilityLevel = "BACKWARD"
    verdict: str = "not_checked"
    reasons: tuple[str, ...] = ()
    changes: tuple[dict[str, Any], ...] = ()
    parent_version: int | None = None
    migrates_from: int | None = None
    modes: dict[str, str] = field(default_factory=dict)
    owner: str | None = None
    description: str | None = None
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    contract: type[Contract] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, contract: type[Contract]) -> ContractVersion:
        """The declared version of a contract class (not registered)."""
        info = contract.__contract__
        schema = canonical_json_schema(contract)
        return cls(
            name=info.name,
            version=info.version,
            schema_hash=hash_json_schema(schema),
            json_schema=schema,
            origin="declared",
            compatibility=info.compatibility,
            modes=info.modes.as_dict(),
            owner=info.owner,
            description=info.description,
            tags=dict(info.tags),
            migrates_from=info.migration[0] if info.migration else None,
            contract=contract,
        )

    @property
    def open(self) -> bool:
        """Its reader tolerates undeclared keys (``columns`` mode ``evolve`` or ``discard_value``)."""
        return self.modes.get("columns") in ("evolve", "discard_value")

    @property
    def registered(self) -> bool:
        return self.registered_at is not None

    def schema_version(self) -> SchemaVersion:
        return SchemaVersion(self.version, self.json_schema, self.open)


class ContractStore(Protocol):
    """Where the registry persists what it has seen. The runtime's is the ``_contracts`` Delta table
    (:mod:`streamproc.sinks.contracts_table`); :class:`InMemoryContractStore` is for users' unit tests.

    Lifecycle: :meth:`load` any number of times; :meth:`append` one version at a time.
    """

    def load(self) -> list[ContractVersion]:
        """Every persisted row, oldest first (a version number may appear more than once: the newest wins)."""
        ...

    def append(self, version: ContractVersion) -> None:
        """Persist one registered version.

        Raises:
            RegistryConflictError: another writer registered a version of the same name since the last
                :meth:`load` (the registry reloads and decides again).
        """
        ...


class InMemoryContractStore:
    """A :class:`ContractStore` in a list, for unit tests of users' contracts; forgets everything on exit."""

    def __init__(self) -> None:
        self.rows: list[ContractVersion] = []

    def load(self) -> list[ContractVersion]:
        return list(self.rows)

    def append(self, version: ContractVersion) -> None:
        self.rows.append(version)
