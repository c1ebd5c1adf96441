"""Declaring contracts: names, versions, modes, tags, and the schema hash."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field

from contracts import Contract, ContractDeclarationError, ContractModes, Tag, schema_hash


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
