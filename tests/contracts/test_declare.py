"""Declaring contracts: names, versions, modes, tags, and the schema hash."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pytest
from pydantic import (
    AwareDatetime, BaseModel, ConfigDict, Field, FutureDate, NaiveDatetime, Strict, StringConstraints, condecimal,
)

from contracts import Contract, ContractDeclarationError, ContractModes, Tag, schema_hash
from contracts.diff import diff_schemas
from contracts.fingerprint import canonical_json_schema


def test_class_keywords_become_contract_info() -> None:
    class Signup(Contract, name="signups", version=3, owner="growth", mode="freeze"):
        """Someone created an account."""

        user_id: int
        email: Annotated[str, Tag("email")]

    info = Signup.__contract__
    assert (info.name, info.version, info.owner) == ("signups", 3, "growth")
    assert info.description == "Someone created an account."
    assert info.modes == ContractModes(tables="freeze", columns="freeze", data_type="freeze")
    assert info.tags == {"email": ("email",)}


def test_a_mode_mapping_overrides_only_the_named_entities() -> None:
    class Partial(Contract, name="partial", mode={"columns": "discard_value"}):
        a: int

    assert Partial.__contract__.modes == ContractModes(tables="evolve", columns="discard_value", data_type="discard_row")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a name"),
        ({"name": "Bad Name"}, "must match"),
        ({"name": "ok", "version": 0}, "positive integer"),
        ({"name": "ok", "mode": "sometimes"}, "unknown contract mode"),
        ({"name": "ok", "mode": {"rows": "freeze"}}, "unknown contract entity"),
    ],
)
def test_declaration_errors_say_what_is_wrong(kwargs: dict, message: str) -> None:
    with pytest.raises(ContractDeclarationError, match=message):

        class Broken(Contract, **kwargs):
            a: int


def test_the_schema_hash_ignores_the_class_name_and_changes_with_the_fields() -> None:
    class One(Contract, name="things"):
        a: int

    class Renamed(Contract, name="things"):
        a: int

    class Wider(Contract, name="things", version=2):
        a: int
        b: str | None = None

    assert schema_hash(One) == schema_hash(Renamed)
    assert schema_hash(One) != schema_hash(Wider)
    assert schema_hash(One).startswith("sha256:") and len(schema_hash(One)) == 7 + 64


def test_the_schema_hash_covers_what_events_are_accepted_not_documentation_or_field_order() -> None:
    class Plain(Contract, name="things"):
        a: int
        b: str | None = None

    class Documented(Contract, name="things"):
        """Things, documented."""

        b: str | None = Field(default=None, title="B", description="the b", examples=["x"])
        a: int = Field(description="the a")

    class OtherDefault(Contract, name="things"):
        a: int
        b: str | None = "x"

    class FieldsNamedLikeDocumentation(Contract, name="things"):
        title: int
        description: str | None = None

    class OtherFieldsNamedLikeDocumentation(Contract, name="things"):
        title: str
        description: str | None = None

    assert schema_hash(Plain) == schema_hash(Documented)
    assert schema_hash(Plain) != schema_hash(OtherDefault)  # a default lands in the table
    assert schema_hash(FieldsNamedLikeDocumentation) != schema_hash(OtherFieldsNamedLikeDocumentation)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        (
            {"tags": ["pii"]},
            r"contract 'x' \(class Broken\): unknown class keyword 'tags'; a contract takes name, version, mode, "
            r"owner, description, compatibility, quarantine_threshold, pii \(field tags go on fields: "
            r"Annotated\[str, Tag\('email'\)\]\)",
        ),
        ({"versoin": 2}, r"unknown class keyword 'versoin' \(did you mean 'version'\?\)"),
        (
            {"modes": "freeze", "ownr": "me"},
            r"unknown class keywords 'modes' \(did you mean 'mode'\?\), 'ownr' \(did you mean 'owner'\?\)",
        ),
    ],
)
def test_an_unknown_class_keyword_names_it_and_the_allowed_ones(keywords: dict, message: str) -> None:
    with pytest.raises(ContractDeclarationError, match=message):

        class Broken(Contract, name="x", version=1, **keywords):
            a: int


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)
    n: int


class _Lax(BaseModel):
    n: int


def _declared(annotation: Any, **config: Any) -> type[Contract]:
    namespace: dict[str, Any] = {"__annotations__": {"value": annotation}}
    if config:
        namespace["model_config"] = ConfigDict(extra="forbid", frozen=True, **config)
    return type("Declared", (Contract,), namespace, name="hashed")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (condecimal(max_digits=12, decimal_places=2), condecimal(max_digits=12, decimal_places=4)),
        (condecimal(max_digits=12, decimal_places=2), condecimal(max_digits=10, decimal_places=2)),
        (dt.datetime, AwareDatetime),
        (AwareDatetime, NaiveDatetime),
        (dt.date, FutureDate),
        (int, Annotated[int, Strict()]),
        (float, Annotated[float, Field(allow_inf_nan=False)]),
        (str, Annotated[str, StringConstraints(strip_whitespace=True)]),
        (str, Annotated[str, StringConstraints(to_lower=True)]),
        (_Lax, _Strict),
    ],
    ids=["decimal_places", "max_digits", "aware", "naive", "future", "strict", "inf_nan", "strip", "lower", "nested"],
)
def test_the_schema_hash_covers_what_pydantics_json_schema_leaves_out(before: Any, after: Any) -> None:
    # each pair accepts or lands different events, so a registered version cannot silently become the other
    assert schema_hash(_declared(before)) != schema_hash(_declared(after))
    assert schema_hash(_declared(before)) == schema_hash(_declared(before))


@pytest.mark.parametrize(
    "config", [{"strict": True}, {"str_strip_whitespace": True}, {"str_to_lower": True}, {"validate_by_name": True}]
)
def test_the_schema_hash_covers_the_model_config_that_decides_acceptance(config: dict[str, Any]) -> None:
    assert schema_hash(_declared(str)) != schema_hash(_declared(str, **config))


def test_a_tightened_decimal_is_a_breaking_change_with_the_field_named() -> None:
    old, new = _declared(condecimal(max_digits=12, decimal_places=4)), _declared(condecimal(max_digits=12, decimal_places=2))
    (change,) = diff_schemas(canonical_json_schema(old), canonical_json_schema(new))
    assert (change.path, change.kind, change.backward, change.forward) == ("value", "constraint_changed", False, True)
    assert "decimalPlaces=2" in change.describe() and "maxDigits=12" in change.describe()
