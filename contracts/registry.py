"""The registry: every version of every contract, from the code and from the persisted history.

Contracts are found in Python modules (:mod:`contracts.discovery`): packages, single modules and the entry point group
``streamproc.contracts``. Each version has a stable schema
hash (:func:`contracts.fingerprint.schema_hash`). What the registry has seen is persisted through a
:class:`ContractStore` (the runtime keeps it in the lake as the ``_contracts`` Delta table), so schema history
survives restarts, and versions that exist only in the history (older declared ones, or inferred by ``evolve``)
stay queryable.

Rules, as Confluent Schema Registry and dlt apply them:

- registering an unchanged version is a no-op: an unchanged model never creates a version;
- a declared version whose schema changed without a new version number is refused
  (:class:`ContractConflictError`);
- a new declared version must keep its compatibility level with the earlier versions, or it is refused
  (:class:`IncompatibleContractError`); the verdict is recorded with the version;
- a version inferred by ``evolve`` gets the next number (unless its schema equals a known version's) and records its
  verdict without being refused: ``evolve`` is the user's permission to change the table;
- a declared version may later adopt the number of an inferred one (the newest row of a number wins).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from contracts.compatibility import Verdict, check_compatibility
from contracts.declare import Contract
from contracts.diff import describe_changes, diff_schemas
from contracts.discovery import discover_contracts
from contracts.errors import (
    ContractConflictError,
    ContractNotFoundError,
    IncompatibleContractError,
    RegistryConflictError,
)
from contracts.fingerprint import hash_json_schema, hashed_before_canonical_additions, legacy_schema_hash
from contracts.versions import ContractStore, ContractVersion, InMemoryContractStore, Origin

__all__ = [
    "Origin",
    "ContractVersion",
    "ContractStore",
    "InMemoryContractStore",
    "ContractRegistry",
]

_REGISTER_ATTEMPTS = 5


class ContractRegistry:
    """Every version of every contract: declared in the code, and persisted in a store.

    Lifecycle: construct (or :meth:`discover`) → :meth:`add` more classes → query, :meth:`check`,
    :meth:`register`. Not thread-safe; the runtime registers from one thread.

    Raises (constructor, :meth:`add`):
        ContractConflictError: two classes declare the same name and version with different schemas.
    """

    def __init__(self, contracts: Iterable[type[Contract]] = (), *, store: ContractStore | None = None) -> None:
        self.store = store
        self._declared: dict[tuple[str, int], ContractVersion] = {}
        self._stored: dict[tuple[str, int], ContractVersion] = {}
        for contract in contracts:
            self.add(contract)
        self.reload()

    @classmethod
    def discover(
        cls,
        *,
        packages: Sequence[str] = (),
        modules: Sequence[str] = (),
        entry_points: bool = True,
        store: ContractStore | None = None,
    ) -> ContractRegistry:
        """A registry of the contracts in ``packages`` (walked recursively), ``modules`` and, if ``entry_points``,
        the installed distributions' ``streamproc.contracts`` entry points.

        Raises:
            ContractNotFoundError: a package, module or entry point cannot be imported.
            ContractConflictError: two classes declare the same version differently.
        """
        found = discover_contracts(packages=packages, modules=modules, entry_points=entry_points)
        return cls(found, store=store)

    def add(self, contract: type[Contract]) -> ContractVersion:
        """Add a declared class (not persisted until :meth:`register`)."""
        declared = ContractVersion.of(contract)
        key = (declared.name, declared.version)
        known = self._declared.get(key)
        if known is not None and known.schema_hash != declared.schema_hash:
            raise ContractConflictError(
                f"contract {declared.name!r} v{declared.version} is declared twice with different schemas "
                f"({_qualname(known.contract)} and {_qualname(contract)}); give one a new version"
            )
        self._declared.setdefault(key, declared)
        return self._declared[key]

    def reload(self) -> None:
        """Re-read the store (another process may have registered versions).

        Raises:
            Exception: whatever the store raises when it cannot be read.
        """
        self._stored = {}
        if self.store is not None:
            for row in self.store.load():
                # Hashed again: a row registered when the hash still covered documentation is the same version.
                row = replace(row, schema_hash=hash_json_schema(row.json_schema))
                self._stored[(row.name, row.version)] = row  # the newest row of a number wins

    def names(self) -> list[str]:
        """Every contract name, declared or persisted, sorted."""
        return sorted({name for name, _ in self._declared} | {name for name, _ in self._stored})

    def versions(self, name: str) -> list[ContractVersion]:
        """Every version of ``name``, oldest first: the persisted row, else the declared class (with its class
        attached when the code declares it unchanged; a version the code changed since it was registered is the
        registered row, without class: see :meth:`declared` and :meth:`check`)."""
        numbers = sorted({v for n, v in self._declared if n == name} | {v for n, v in self._stored if n == name})
        return [self._view(name, number) for number in numbers]

    def declared(self, name: str) -> list[ContractVersion]:
        """Every version of ``name`` the loaded code declares, oldest first, each with its class (registered or
        not, changed or not)."""
        return [self._declared[key] for key in sorted(key for key in self._declared if key[0] == name)]

    def get(self, name: str, version: int | None = None) -> ContractVersion:
        """One version (the newest when ``version`` is ``None``).

        Raises:
            ContractNotFoundError: no such contract or version.
        """
        versions = self.versions(name)
        if not versions:
            raise ContractNotFoundError(f"no contract named {name!r} (known: {', '.join(self.names()) or 'none'})")
        if version is None:
            return versions[-1]
        for candidate in versions:
            if candidate.version == version:
                return candidate
        raise ContractNotFoundError(
            f"contract {name!r} has no version {version} (known: {', '.join(str(v.version) for v in versions)})"
        )

    def contract_class(self, name: str, version: int) -> type[Contract]:
        """The class declaring ``name`` v``version``.

        Raises:
            ContractNotFoundError: not declared in the loaded code (an inferred or historical version).
        """
        declared = self._declared.get((name, version))
        if declared is None or declared.contract is None:
            raise ContractNotFoundError(f"contract {name!r} v{version} is not declared in the loaded code")
        return declared.contract

    def check(self, contract: type[Contract]) -> Verdict:
        """The compatibility verdict of a declared class against every other known version (no persistence).

        Raises:
            ContractConflictError: the version was registered before with another schema.
        """
        declared = ContractVersion.of(contract)
        self._refuse_taking_the_number(declared)
        return self.verdict(declared)

    def verdict(self, version: ContractVersion) -> Verdict:
        """The compatibility verdict of any version (declared, inferred or only in the history) against the earlier
        known versions of its compatibility group, at its level (no persistence). ``not_checked`` when its level is
        ``NONE`` or nothing earlier is in its group (a first version, or the first after a migration)."""
        earlier = [v for v in self.versions(version.name) if v.version < version.version]
        # A migration starts a compatibility group: what it upcasts from is not compared (its events are migrated).
        boundary = max((v.migrates_from or 0 for v in [*earlier, version]), default=0)
        group = [v.schema_version() for v in earlier if v.version > boundary]
        return check_compatibility(version.schema_version(), group, version.compatibility)

    def register(self, contract: type[Contract]) -> ContractVersion:
        """Register a declared class: a no-op if already registered unchanged; else check and persist.

        Returns:
            The registered version.

        Raises:
            ContractConflictError: registered before under this number with another schema.
            IncompatibleContractError: breaks its compatibility level (nothing is persisted).
        """
        self.add(contract)

        def attempt() -> tuple[ContractVersion, bool]:
            declared = self._declared[(contract.__contract__.name, contract.__contract__.version)]
            stored = self._stored.get((declared.name, declared.version))
            if stored is not None and stored.schema_hash == declared.schema_hash:
                return replace(stored, contract=declared.contract), False
            if stored is not None and _registered_before_canonical_additions(stored, declared):
                # the same version, recorded again under today's hash: the newest row of a number wins
                upgraded = replace(
                    stored, schema_hash=declared.schema_hash, json_schema=declared.json_schema,
                    registered_at=dt.datetime.now(dt.UTC),
                )
                return replace(upgraded, contract=declared.contract), True
            self._refuse_taking_the_number(declared)
            verdict = self.verdict(declared)
            if not verdict.compatible:
                raise IncompatibleContractError(declared.name, declared.version, verdict)
            return self._recorded(declared, verdict), True

        return self._persist_retrying(
            attempt, f"could not register {contract.__contract__.name!r}: too many concurrent writers"
        )

    def register_declared(self, name: str) -> list[ContractVersion]:
        """Register every version of ``name`` the loaded code declares, oldest first (see :meth:`register`).

        Raises:
            ContractConflictError: one of them was registered before under its number with another schema.
            IncompatibleContractError: one of them breaks its compatibility level.
        """
        return [self.register(v.contract) for v in self.declared(name) if v.contract is not None]

    def register_inferred(
        self, name: str, json_schema: Mapping[str, Any], *, parent: ContractVersion
    ) -> ContractVersion:
        """Record a version inferred by ``evolve``: ``parent``'s schema plus what the data added.

        Returns:
            The known version with the same schema hash if there is one (nothing new is recorded), else the new
            version, numbered after the newest known one, with its verdict at ``parent``'s level.
        """
        schema = dict(json_schema)
        digest = hash_json_schema(schema)

        def attempt() -> tuple[ContractVersion, bool]:
            for known in self.versions(name):
                if known.schema_hash == digest:
                    return known, False
            candidate = ContractVersion(
                name=name,
                version=max(v.version for v in self.versions(name)) + 1,
                schema_hash=digest,
                json_schema=schema,
                origin="inferred",
                compatibility=parent.compatibility,
                parent_version=parent.version,
                modes=dict(parent.modes),
                owner=parent.owner,
                description=parent.description,
                tags=dict(parent.tags),
            )
            return self._recorded(candidate, self.verdict(candidate)), True

        return self._persist_retrying(
            attempt, f"could not record an inferred version of {name!r}: too many concurrent writers"
        )

    def _persist_retrying(self, attempt: Callable[[], tuple[ContractVersion, bool]], failure: str) -> ContractVersion:
        """Persist what ``attempt`` decides, re-reading the store and deciding again when another writer recorded a
        version meanwhile. ``attempt`` returns ``(version, True)`` to persist it, ``(version, False)`` when it is
        known already.

        Raises:
            RegistryConflictError: still conflicting after ``_REGISTER_ATTEMPTS`` attempts (``failure`` says what).
        """
        for _ in range(_REGISTER_ATTEMPTS):
            row, new = attempt()
            if not new:
                return row
            try:
                self._persist(row)
            except RegistryConflictError:
                self.reload()
                continue
            return row
        raise RegistryConflictError(failure)

    def _view(self, name: str, number: int) -> ContractVersion:
        stored = self._stored.get((name, number))
        declared = self._declared.get((name, number))
        if stored is None:
            return declared  # type: ignore[return-value]
        if declared is not None and (
            declared.schema_hash == stored.schema_hash or _registered_before_canonical_additions(stored, declared)
        ):
            return replace(stored, contract=declared.contract)
        return stored

    def _refuse_taking_the_number(self, declared: ContractVersion) -> None:
        """Refuse ``declared`` its number when a version registered under it holds another schema: a declared one
        never changes (unless only its hash's additions tell them apart, see
        :func:`_registered_before_canonical_additions`); one ``evolve`` inferred may be adopted only by a version
        that accepts what it described (rows landed under the number carry it in ``_contract_version``, and the
        table has its columns)."""
        stored = self._stored.get((declared.name, declared.version))
        if stored is None or stored.schema_hash == declared.schema_hash:
            return
        if stored.origin == "declared" and not _registered_before_canonical_additions(stored, declared):
            raise ContractConflictError(
                f"contract {declared.name!r} v{declared.version} changed since it was registered at "
                f"{stored.registered_at:%Y-%m-%d %H:%M:%S} ({stored.schema_hash[:19]}… → "
                f"{declared.schema_hash[:19]}…); a registered version never changes: declare it as version "
                f"{self._next_number(declared.name)}",
                name=declared.name,
                version=declared.version,
                reasons=describe_changes(
                    stored.json_schema, declared.json_schema, old_open=stored.open, new_open=declared.open
                ),
            )
        if stored.origin != "inferred":
            return
        breaking = tuple(
            change.describe()
            for change in diff_schemas(
                stored.json_schema, declared.json_schema, old_open=stored.open, new_open=declared.open
            )
            if not change.backward
        )
        if breaking:
            raise ContractConflictError(
                f"contract {declared.name!r} v{declared.version} was inferred by evolve at "
                f"{stored.registered_at:%Y-%m-%d %H:%M:%S} ({stored.schema_hash[:19]}…), and rows landed under that "
                f"number; the declared v{declared.version} ({declared.schema_hash[:19]}…) would reject events it "
                f"accepted, so it cannot take the number: declare it as version {self._next_number(declared.name)}, "
                f"or declare v{declared.version} so that it accepts every event the inferred version did",
                name=declared.name,
                version=declared.version,
                reasons=breaking,
            )

    def _next_number(self, name: str) -> int:
        return max((v.version for v in self.versions(name)), default=0) + 1

    def _recorded(self, candidate: ContractVersion, verdict: Verdict) -> ContractVersion:
        earlier = [v for v in self.versions(candidate.name) if v.version < candidate.version]
        previous = earlier[-1] if earlier else None
        changes = (
            tuple(
                c.as_dict()
                for c in diff_schemas(
                    previous.json_schema, candidate.json_schema, old_open=previous.open, new_open=candidate.open
                )
            )
            if previous is not None
            else ()
        )
        return replace(
            candidate,
            registered_at=dt.datetime.now(dt.UTC),
            verdict=verdict.summary,
            reasons=verdict.reasons,
            changes=changes,
            parent_version=candidate.parent_version or (previous.version if previous else None),
        )

    def _persist(self, row: ContractVersion) -> None:
        if self.store is not None:
            self.store.append(replace(row, contract=None))
        self._stored[(row.name, row.version)] = row


def _registered_before_canonical_additions(stored: ContractVersion, declared: ContractVersion) -> bool:
    """``stored`` was registered before the canonical schema's additions (decimal digits, time zones, strictness...:
    :mod:`contracts.fingerprint`) and is ``declared`` as far as its hash could see. Such a row is recorded again
    under the new hash when the version is next registered, instead of refusing an unchanged contract; what the old
    hash could not see (a ``decimal_places`` edited since) cannot be told."""
    return (
        stored.origin == "declared"
        and declared.contract is not None
        and hashed_before_canonical_additions(dict(stored.json_schema))
        and stored.schema_hash == legacy_schema_hash(declared.contract)
    )


def _qualname(contract: type[Contract] | None) -> str:
    return f"{contract.__module__}.{contract.__qualname__}" if contract is not None else "?"
