"""The registry: discovery from packages and entry points, hashes, versions, and what registering records."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pytest
from pydantic import AwareDatetime, Field, condecimal

from contracts import Contract, schema_hash
from contracts.errors import ContractConflictError, ContractNotFoundError, IncompatibleContractError
from contracts.fingerprint import legacy_schema_hash
from contracts.registry import ContractRegistry, ContractVersion, InMemoryContractStore


def test_discovers_every_version_in_a_package() -> None:
    registry = ContractRegistry.discover(packages=["tests.fixtures.shop_contracts"], entry_points=False)
    assert "payments" in registry.names()
    versions = registry.versions("payments")
    assert [(v.version, v.origin, v.registered) for v in versions] == [(1, "declared", False), (2, "declared", False)]
    assert versions[0].tags == {"email": ("email",)} and versions[0].owner == "billing"
    assert registry.contract_class("payments", 2).__name__ == "PaymentV2"


def test_discovers_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "acme_events-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-events\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[streamproc.contracts]\npayments = tests.fixtures.shop_contracts.payments_v1\n"
        "payments_v2 = tests.fixtures.shop_contracts.payments_v2:PaymentV2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ContractRegistry.discover(entry_points=True)
    assert [v.version for v in registry.versions("payments")] == [1, 2]


def test_registering_is_idempotent_and_an_unchanged_model_never_makes_a_version() -> None:
    store = InMemoryContractStore()
    registry = ContractRegistry.discover(packages=["tests.fixtures.shop_contracts"], entry_points=False, store=store)
    first = registry.register_declared("payments")
    assert [(v.version, v.verdict) for v in first] == [(1, "not_checked"), (2, "compatible")]
    assert {c["path"]: c["kind"] for c in first[1].changes} == {"card_country": "added", "currency": "enum_changed"}
    # a restart: a new registry over the same store registers nothing new
    again = ContractRegistry.discover(packages=["tests.fixtures.shop_contracts"], entry_points=False, store=store)
    again.register_declared("payments")
    assert len(store.rows) == 2
    assert again.get("payments").registered_at == first[1].registered_at


def test_a_changed_schema_under_a_registered_number_is_refused() -> None:
    store = InMemoryContractStore()

    class Before(Contract, name="widgets"):
        a: int

    ContractRegistry([Before], store=store).register(Before)

    class After(Contract, name="widgets"):
        a: int
        b: str | None = None

    with pytest.raises(ContractConflictError, match="changed since it was registered.*version 2"):
        ContractRegistry([After], store=store).register(After)


def test_an_incompatible_version_is_refused_with_the_field_named() -> None:
    class V1(Contract, name="gadgets", compatibility="BACKWARD"):
        size: int
        colour: Literal["red", "blue"]

    class V2(Contract, name="gadgets", version=2, compatibility="BACKWARD"):
        size: str  # retyped
        colour: Literal["red"]  # a value removed
        weight: float  # a new required field

    store = InMemoryContractStore()
    registry = ContractRegistry([V1, V2], store=store)
    registry.register(V1)
    with pytest.raises(IncompatibleContractError) as caught:
        registry.register(V2)
    reasons = "\n".join(caught.value.verdict.reasons)
    assert "field 'size': type changed from integer to string" in reasons
    assert "field 'colour': enum changed" in reasons
    assert "field 'weight': added" in reasons
    assert [r.version for r in store.rows] == [1]


def test_inferred_versions_take_the_next_number_and_are_found_by_hash() -> None:
    class V1(Contract, name="clicks", mode={"columns": "evolve"}):
        url: str

    store = InMemoryContractStore()
    registry = ContractRegistry([V1], store=store)
    (v1,) = registry.register_declared("clicks")
    evolved = {**v1.json_schema, "properties": {**v1.json_schema["properties"], "ref": {"type": "string"}}}
    v2 = registry.register_inferred("clicks", evolved, parent=v1)
    assert (v2.version, v2.origin, v2.parent_version, v2.verdict) == (2, "inferred", 1, "compatible")
    assert [c["path"] for c in v2.changes] == ["ref"]
    assert registry.register_inferred("clicks", evolved, parent=v1) == v2
    assert len(store.rows) == 2

    class V2(Contract, name="clicks", version=2, mode={"columns": "evolve"}):
        url: str
        ref: str | None = None

    # declaring version 2 adopts the inferred number: the newest row wins
    declared = ContractRegistry([V1, V2], store=store).register(V2)
    assert declared.origin == "declared"
    assert ContractRegistry([], store=store).get("clicks", 2).origin == "declared"


def test_a_declared_version_cannot_take_an_inferred_number_whose_events_it_would_reject() -> None:
    class V1(Contract, name="taps", mode={"columns": "evolve"}):
        url: str

    store = InMemoryContractStore()
    registry = ContractRegistry([V1], store=store)
    (v1,) = registry.register_declared("taps")
    evolved = {**v1.json_schema, "properties": {**v1.json_schema["properties"], "ref": {"type": "string"}}}
    inferred = registry.register_inferred("taps", evolved, parent=v1)

    class V2(Contract, name="taps", version=2, mode={"columns": "evolve"}):
        url: str
        ref: int | None = None  # the rows landed as v2 hold text

    with pytest.raises(ContractConflictError, match=r"v2 was inferred by evolve.*declare it as version 3") as caught:
        ContractRegistry([V1, V2], store=store).register(V2)
    assert caught.value.reasons == ("field 'ref': type changed from string to integer",)
    with pytest.raises(ContractConflictError, match="was inferred by evolve"):
        ContractRegistry([V1, V2], store=store).check(V2)
    assert ContractRegistry([], store=store).get("taps", 2) == inferred


def test_unknown_names_and_versions_are_clear_errors() -> None:
    registry = ContractRegistry.discover(packages=["tests.fixtures.shop_contracts"], entry_points=False)
    with pytest.raises(ContractNotFoundError, match="no contract named 'nope'"):
        registry.get("nope")
    with pytest.raises(ContractNotFoundError, match="has no version 9"):
        registry.get("payments", 9)
    with pytest.raises(ContractNotFoundError, match="cannot import"):
        ContractRegistry.discover(packages=["no_such_package_xyz"], entry_points=False)


def test_two_classes_declaring_one_version_differently_conflict() -> None:
    class A(Contract, name="dupes"):
        a: int = Field(ge=0)

    class B(Contract, name="dupes"):
        a: int

    with pytest.raises(ContractConflictError, match="declared twice"):
        ContractRegistry([A, B])
    assert ContractVersion.of(A).schema_hash != ContractVersion.of(B).schema_hash


def test_register_declared_refuses_any_declared_version_changed_under_its_number() -> None:
    class V1(Contract, name="widgets"):
        a: int

    class V2(Contract, name="widgets", version=2):
        a: int
        b: str | None = None

    store = InMemoryContractStore()
    ContractRegistry([V1, V2], store=store).register_declared("widgets")

    class V2Changed(Contract, name="widgets", version=2):  # the newest version changed
        a: int
        b: str | None = Field(default=None, max_length=8)
        c: float | None = None

    with pytest.raises(ContractConflictError) as caught:
        ContractRegistry([V1, V2Changed], store=store).register_declared("widgets")
    assert (caught.value.name, caught.value.version) == ("widgets", 2)
    assert caught.value.reasons == (
        "field 'b': constraint changed from none to maxLength=8",
        "field 'c': added (number | null, optional)",
    )
    assert "contract 'widgets' v2 changed since it was registered" in str(caught.value)
    assert "declare it as version 3" in str(caught.value)

    class V1Changed(Contract, name="widgets"):  # an older version changed
        a: str

    with pytest.raises(ContractConflictError, match=r"'widgets' v1 changed.*field 'a': type changed from integer"):
        ContractRegistry([V1Changed, V2], store=store).register_declared("widgets")
    assert [(r.version, r.schema_hash) for r in store.rows] == [
        (1, ContractVersion.of(V1).schema_hash), (2, ContractVersion.of(V2).schema_hash)
    ]


def test_a_change_outside_the_field_shapes_is_still_named() -> None:
    class Before(Contract, name="defaults"):
        plan: str = "free"

    class After(Contract, name="defaults"):
        plan: str = "pro"

    store = InMemoryContractStore()
    ContractRegistry([Before], store=store).register(Before)
    with pytest.raises(ContractConflictError) as caught:
        ContractRegistry([After], store=store).register_declared("defaults")
    assert caught.value.reasons == ("JSON Schema /properties/plan/default: \"free\" → \"pro\"",)


def test_documentation_and_field_order_change_no_registered_version() -> None:
    class Before(Contract, name="notes"):
        a: int
        b: str = Field(max_length=5)

    class After(Contract, name="notes"):
        """Documented after registration."""

        b: str = Field(max_length=5, description="the b", title="B", examples=["x"])
        a: int

    store = InMemoryContractStore()
    (registered,) = ContractRegistry([Before], store=store).register_declared("notes")
    (again,) = ContractRegistry([After], store=store).register_declared("notes")
    assert again.contract is After and again.schema_hash == registered.schema_hash
    assert len(store.rows) == 1


def test_a_version_registered_with_the_older_hash_is_the_same_version() -> None:
    # Before documentation was left out of the hash, the hash covered the whole JSON Schema: such rows stay valid.
    class Documented(Contract, name="legacy"):
        """A documented contract."""

        a: int = Field(description="the a")

    store = InMemoryContractStore()
    (row,) = ContractRegistry([Documented], store=store).register_declared("legacy")
    text = json.dumps(row.json_schema, sort_keys=True, separators=(",", ":"))
    store.rows[0] = replace(row, schema_hash="sha256:" + hashlib.sha256(text.encode()).hexdigest())
    (again,) = ContractRegistry([Documented], store=store).register_declared("legacy")
    assert again.schema_hash == row.schema_hash and len(store.rows) == 1


def test_a_version_registered_before_the_hash_saw_decimal_digits_and_time_zones_is_recorded_again_not_refused() -> None:
    class Ledger(Contract, name="ledger"):
        amount: condecimal(max_digits=12, decimal_places=2)
        booked_at: AwareDatetime

    class LedgerChanged(Contract, name="ledger"):
        amount: condecimal(max_digits=12, decimal_places=2)
        booked_at: AwareDatetime
        note: str | None = None

    plain = Ledger.model_json_schema(mode="validation")
    plain.pop("title")
    store = InMemoryContractStore()
    store.append(replace(  # as an earlier streamproc recorded it: pydantic's JSON Schema and its hash
        ContractVersion.of(Ledger), schema_hash=legacy_schema_hash(Ledger), json_schema=plain,
        registered_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), contract=None,
    ))

    with pytest.raises(ContractConflictError, match="changed since it was registered"):
        ContractRegistry([LedgerChanged], store=store).register(LedgerChanged)
    assert ContractRegistry([Ledger], store=store).check(Ledger).summary == "not_checked"
    registered = ContractRegistry([Ledger], store=store).register(Ledger)

    assert registered.schema_hash == schema_hash(Ledger) != legacy_schema_hash(Ledger)
    assert registered.registered_at is not None and registered.registered_at > dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert [row.schema_hash for row in store.rows] == [legacy_schema_hash(Ledger), schema_hash(Ledger)]
    ContractRegistry([Ledger], store=store).register(Ledger)  # now the same hash: nothing more recorded
    assert len(store.rows) == 2
