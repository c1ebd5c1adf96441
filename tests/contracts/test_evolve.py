"""``evolve`` on the per-row path: new columns, variant columns, nulls, and what evolve does not cover."""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Literal

import pyarrow as pa
from pydantic import BaseModel, Field

from contracts import Contract, validate_batch
from contracts.evolve import EvolvedColumn, evolved_columns_of, evolved_json_schema
from contracts.fingerprint import canonical_json_schema, hash_json_schema
from contracts.modes import Mode


class Box(BaseModel):
    w: int


class Click(Contract, name="clicks", mode="evolve"):
    url: str
    count: int = Field(ge=0)
    box: Box | None = None


class Mixed(Contract, name="mixed", mode={"columns": "evolve"}):
    url: str
    amount: Annotated[float, Mode({"data_type": "evolve"})]


def _b(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_a_new_key_becomes_a_typed_column_and_a_null_creates_none() -> None:
    result = validate_batch(Click, [_b({"url": "a", "count": 1, "ref": "mail", "tag": None, "meta": {"x": 1}})])
    assert result.rejected == []
    assert [(c.name, c.type_name, c.entity) for c in result.new_columns] == [
        ("ref", "text", "columns"), ("meta", "json", "columns")
    ]
    (row,) = result.accepted.to_pylist()
    assert row["ref"] == "mail" and json.loads(row["meta"]) == {"x": 1} and "tag" not in row
    assert result.accepted.schema.field("ref").metadata == {
        b"streamproc.evolved": b"text", b"streamproc.entity": b"columns"
    }


def test_a_value_of_another_type_goes_to_a_variant_column() -> None:
    result = validate_batch(Click, [_b({"url": "a", "count": "many"}), _b({"url": "b", "count": 2})])
    assert [(c.name, c.type_name, c.variant_of) for c in result.new_columns] == [("count__v_text", "text", "count")]
    rows = result.accepted.to_pylist()
    assert rows[0]["count"] is None and rows[0]["count__v_text"] == "many"
    assert rows[1]["count"] == 2 and rows[1]["count__v_text"] is None
    assert result.accepted.schema.field("count").nullable  # evolvable columns are nullable in the table


def test_known_evolved_columns_are_reused_and_a_type_change_on_them_makes_a_variant() -> None:
    known = {"ref": EvolvedColumn("ref", "text", "columns")}
    result = validate_batch(Click, [_b({"url": "a", "count": 1, "ref": 7})], evolved=known)
    assert [c.name for c in result.new_columns] == ["ref__v_bigint"]
    assert result.accepted.to_pylist()[0] | {} == {
        "url": "a", "count": 1, "box": None, "ref": None, "ref__v_bigint": 7
    }


def test_missing_or_null_required_values_land_as_null_under_evolve() -> None:
    result = validate_batch(Click, [_b({"url": "a"}), _b({"url": "b", "count": None})])
    assert [r["count"] for r in result.accepted.to_pylist()] == [None, None]
    assert result.new_columns == ()


def test_constraint_violations_and_nested_keys_are_not_type_changes() -> None:
    result = validate_batch(Click, [_b({"url": "a", "count": -1}), _b({"url": "b", "count": 1, "box": {"w": 1, "h": 2}})])
    assert result.accepted.num_rows == 0
    modes = [(v.loc, v.mode) for r in result.rejected for v in r.violations]
    assert modes == [("count", "discard_row"), ("box.h", "discard_row")]


def test_a_field_override_limits_variants_to_that_field() -> None:
    result = validate_batch(Mixed, [_b({"url": 5, "amount": 1}), _b({"url": "x", "amount": "n/a", "extra": True})])
    assert result.accepted_index == [1]
    assert result.rejected[0].violations[0].mode == "discard_row"  # url: the default data_type mode
    assert {c.name for c in result.new_columns} == {"amount__v_text", "extra"}


def test_the_inferred_schema_depends_only_on_the_set_of_evolved_columns() -> None:
    base = canonical_json_schema(Click)
    a = [EvolvedColumn("ref", "text", "columns"), EvolvedColumn("count__v_text", "text", "data_type", "count")]
    first, second = evolved_json_schema(base, a), evolved_json_schema(base, list(reversed(a)))
    assert hash_json_schema(first) == hash_json_schema(second) != hash_json_schema(base)
    assert "count" not in first.get("required", []) and "ref" in first["properties"]
    branches = first["properties"]["count"]["anyOf"]
    assert {"type": "string"} in branches and {"type": "null"} in branches
    schema = pa.schema([pa.field("url", pa.string()), a[1].arrow_field()])
    assert evolved_columns_of(schema) == {"count__v_text": a[1]}


class Aliased(Contract, name="aliased", mode="evolve"):
    user_id: int = Field(alias="userId")
    amount: float = Field(default=0.5, ge=0, alias="amountEur")


def test_an_aliased_field_evolves_under_its_own_column_and_keeps_its_default() -> None:
    result = validate_batch(Aliased, [
        _b({"userId": 1, "ref": "mail"}),  # a new key: amount keeps its default
        _b({"userId": "u-2", "amountEur": "high"}),  # two variants, named after the fields
        _b({"amountEur": 3}),  # a missing required value lands as null
        _b({"userId": 4, "amountEur": -1}),  # a constraint is not a type change
    ])
    assert [r.index for r in result.rejected] == [3]
    assert result.accepted.to_pylist() == [
        {"user_id": 1, "amount": 0.5, "ref": "mail", "user_id__v_text": None, "amount__v_text": None},
        {"user_id": None, "amount": None, "ref": None, "user_id__v_text": "u-2", "amount__v_text": "high"},
        {"user_id": None, "amount": 3.0, "ref": None, "user_id__v_text": None, "amount__v_text": None},
    ]


def test_a_new_column_may_not_take_a_taken_name_in_any_case() -> None:
    result = validate_batch(Aliased, [
        _b({"userId": 1, "x": 1, "X": 2}),  # Delta compares column names ignoring case
        _b({"userId": 2, "user_id": 3}),  # the aliased field's column
        _b({"userId": 3, "_offset": 4}),  # a lineage column
        _b({"userId": 4, "x": 5}),
    ], evolved={})
    assert result.accepted_index == [3] and [c.name for c in result.new_columns] == ["x"]
    messages = {r.index: [(v.loc, v.mode, v.message.split("; ", 1)[-1]) for v in r.violations] for r in result.rejected}
    assert messages == {
        0: [("x", "evolve", "Extra inputs are not permitted"), ("X", "discard_row",
            "it cannot become a column: the table has 'x' (Delta compares column names ignoring case)")],
        1: [("user_id", "discard_row", "it cannot become a column: the contract's field 'user_id' has that name")],
        2: [("_offset", "discard_row", "it cannot become a column: '_offset' is a lineage column")],
    }


class Colour(str, Enum):
    RED = "red"


class Ticket(Contract, name="tickets", mode="evolve"):
    status: Literal["open", "closed"] = "open"
    colour: Colour | None = None


def test_a_literal_or_enum_refused_value_of_its_own_type_is_a_constraint_not_a_variant() -> None:
    result = validate_batch(Ticket, [
        _b({"status": " open "}), _b({"colour": "blue"}),  # text outside the choices: the row is discarded
        _b({"status": 5}), _b({"colour": 1}),  # another type: a variant column
    ])
    assert {r.index: [(v.loc, v.mode) for v in r.violations] for r in result.rejected} == {
        0: [("status", "discard_row")], 1: [("colour", "discard_row")]
    }
    assert [c.name for c in result.new_columns] == ["status__v_bigint", "colour__v_bigint"]
