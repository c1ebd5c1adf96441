"""Compatibility levels (Confluent's), and the field diff they are judged on."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, condecimal

from contracts import Contract, migration
from contracts.compatibility import SchemaVersion, check_compatibility
from contracts.diff import diff_schemas, field_shapes
from contracts.errors import IncompatibleContractError
from contracts.fingerprint import canonical_json_schema
from contracts.registry import ContractRegistry, InMemoryContractStore


class V1(Contract, name="things"):
    id: int
    size: int = Field(ge=0, le=100)
    kind: Literal["a", "b"]
    note: str | None = None


class AddOptional(Contract, name="things", version=2):  # backward only (closed readers)
    id: int
    size: int = Field(ge=0, le=100)
    kind: Literal["a", "b"]
    note: str | None = None
    colour: str | None = None


class DropOptional(Contract, name="things", version=2):  # forward only
    id: int
    size: int = Field(ge=0, le=100)
    kind: Literal["a", "b"]


class Widen(Contract, name="things", version=2):  # number, looser bounds, one more value: backward only
    id: int
    size: float = Field(ge=-10, le=1000)
    kind: Literal["a", "b", "c"]
    note: str | None = None


class Narrow(Contract, name="things", version=2):  # required note, tighter bounds, fewer values: forward only
    id: int
    size: int = Field(ge=1, le=50)
    kind: Literal["a"]
    note: str


class Retype(Contract, name="things", version=2):  # breaks both ways
    id: str
    size: int = Field(ge=0, le=100)
    kind: Literal["a", "b"]
    note: str | None = None


class Same(Contract, name="things", version=3):
    id: int
    size: int = Field(ge=0, le=100)
    kind: Literal["a", "b"]
    note: str | None = None


def _v(contract: type[Contract], version: int | None = None, *, open: bool = False) -> SchemaVersion:
    return SchemaVersion(version or contract.__contract__.version, canonical_json_schema(contract), open)


EXPECTED = {
    # new version: (BACKWARD ok, FORWARD ok)
    AddOptional: (True, False),
    DropOptional: (False, True),
    Widen: (True, False),
    Narrow: (False, True),
    Retype: (False, False),
}


@pytest.mark.parametrize("new", list(EXPECTED), ids=lambda c: c.__name__)
@pytest.mark.parametrize("level", ["BACKWARD", "FORWARD", "FULL", "NONE"])
def test_each_level_against_the_latest_version(new: type[Contract], level: str) -> None:
    backward, forward = EXPECTED[new]
    verdict = check_compatibility(_v(new), [_v(V1)], level)  # type: ignore[arg-type]
    expected = {"BACKWARD": backward, "FORWARD": forward, "FULL": backward and forward, "NONE": True}[level]
    assert verdict.compatible is expected, verdict.reasons
    assert bool(verdict.reasons) is not expected
    if level == "NONE":
        assert verdict.summary == "not_checked"


@pytest.mark.parametrize(
    ("level", "compatible"),
    [
        ("BACKWARD", True),
        ("BACKWARD_TRANSITIVE", False),
        ("FORWARD", True),
        ("FORWARD_TRANSITIVE", False),
        ("FULL", True),
        ("FULL_TRANSITIVE", False),
    ],
)
def test_transitive_levels_check_every_earlier_version(level: str, compatible: bool) -> None:
    # v1 has id: str, v2 and v3 have id: int. v3 equals v2; only the transitive levels also compare with v1.
    history = [_v(Retype, 1), _v(V1, 2)]
    verdict = check_compatibility(_v(Same, 3), history, level)  # type: ignore[arg-type]
    assert verdict.compatible is compatible
    assert verdict.checked_against == ((1, 2) if level.endswith("_TRANSITIVE") else (2,))
    if not compatible:
        assert all(r.startswith("v3 vs v1: field 'id': type changed") for r in verdict.reasons)


def test_reasons_name_every_incompatible_field_and_direction() -> None:
    verdict = check_compatibility(_v(Narrow), [_v(V1)], "FULL")
    text = "\n".join(verdict.reasons)
    assert "field 'size': constraint changed" in text and "breaks BACKWARD" in text
    assert "field 'kind': enum changed" in text
    assert "field 'note': nullability changed" in text and "field 'note': required changed" in text
    assert "breaks FORWARD" not in text


def test_an_open_reader_tolerates_added_and_removed_fields() -> None:
    # columns: evolve or discard_value on the old reader: events with a new key still land
    assert check_compatibility(_v(AddOptional), [_v(V1, open=True)], "FULL").compatible
    assert not check_compatibility(_v(AddOptional), [_v(V1)], "FULL").compatible


def test_diff_reports_nested_and_list_fields_once() -> None:
    from pydantic import BaseModel

    class Line(BaseModel):
        sku: str
        qty: int

    class Cart(Contract, name="carts"):
        lines: list[Line]

    class Line2(BaseModel):
        sku: str
        qty: float
        gift: bool = False

    class Cart2(Contract, name="carts", version=2):
        lines: list[Line2]
        coupon: dict[str, int] | None = None

    changes = {(c.path, c.kind): c for c in diff_schemas(canonical_json_schema(Cart), canonical_json_schema(Cart2))}
    assert set(changes) == {("lines[].qty", "type_changed"), ("lines[].gift", "added"), ("coupon", "added")}
    assert changes[("lines[].qty", "type_changed")].backward and not changes[("lines[].qty", "type_changed")].forward
    assert not changes[("coupon", "added")].breaking


@pytest.mark.parametrize("level", ["FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"])
def test_forward_and_full_refuse_even_an_optional_field_while_the_old_version_refuses_undeclared_keys(
    level: str,
) -> None:
    # contracts/README.md, "Closed contracts under FORWARD and FULL": the documented behaviour and each way out.
    class Order(Contract, name="orders_doc", compatibility=level):  # type: ignore[call-arg]
        order_id: int

    class OrderCoupon(Contract, name="orders_doc", version=2, compatibility=level):  # type: ignore[call-arg]
        order_id: int
        coupon: str | None = None

    registry = ContractRegistry([Order, OrderCoupon], store=InMemoryContractStore())
    registry.register(Order)
    with pytest.raises(IncompatibleContractError) as caught:
        registry.register(OrderCoupon)
    assert caught.value.verdict.reasons == (
        "v2 vs v1: field 'coupon': added (string | null, optional) "
        "(breaks FORWARD: events valid under v2 are rejected by v1)",
    )

    class CouponBackward(Contract, name="orders_doc", version=2, compatibility="BACKWARD"):
        order_id: int
        coupon: str | None = None

    class CouponMigrated(Contract, name="orders_doc", version=2, compatibility=level):  # type: ignore[call-arg]
        order_id: int
        coupon: str | None = None

        @migration
        def from_v1(event: dict) -> dict:
            return event

    for way_out in (CouponBackward, CouponMigrated):  # a BACKWARD version, or a new compatibility group
        fresh = ContractRegistry([Order, way_out], store=InMemoryContractStore())
        assert [v.version for v in fresh.register_declared("orders_doc")] == [1, 2]

    class OpenOrder(  # type: ignore[call-arg]
        Contract, name="open_orders_doc", compatibility=level, mode={"columns": "discard_value"}
    ):
        order_id: int

    class OpenOrderCoupon(  # type: ignore[call-arg]
        Contract, name="open_orders_doc", version=2, compatibility=level, mode={"columns": "discard_value"}
    ):
        order_id: int
        coupon: str | None = None

    # versions open to undeclared keys (from the first one on) keep FORWARD and FULL while adding optional fields
    opened = ContractRegistry([OpenOrder, OpenOrderCoupon], store=InMemoryContractStore())
    assert opened.register_declared("open_orders_doc")[1].verdict == "compatible"


class _Created(BaseModel):
    type: Literal["created"]
    user_id: int
    name: str


class _Deleted(BaseModel):
    type: Literal["deleted"]
    user_id: int


class Envelope(Contract, name="envelopes"):
    data: Annotated[_Created | _Deleted, Field(discriminator="type")]
    fee: condecimal(max_digits=6, decimal_places=2) | None = None


class EnvelopeWithoutDeleted(Contract, name="envelopes", version=2):
    data: Annotated[_Created, Field(discriminator="type")] | None = None
    fee: condecimal(max_digits=6, decimal_places=1) | None = None


def test_a_tagged_unions_fields_are_shaped_over_every_member() -> None:
    shapes = field_shapes(canonical_json_schema(Envelope))
    assert shapes["data.type"].enum == ('"created"', '"deleted"')  # not the last member's alone
    assert (shapes["data.user_id"].required, shapes["data.name"].required) == (True, False)
    assert (shapes["fee"].type, shapes["fee"].nullable) == ("number|string", True)  # an Optional[condecimal]
    assert dict(shapes["fee"].constraints) == {"maxDigits": 6, "decimalPlaces": 2}


def test_dropping_a_union_member_or_decimal_places_breaks_backward() -> None:
    changes = {
        (c.path, c.kind): c.backward
        for c in diff_schemas(canonical_json_schema(Envelope), canonical_json_schema(EnvelopeWithoutDeleted))
    }
    assert changes[("data.type", "enum_changed")] is False
    assert changes[("fee", "constraint_changed")] is False
    assert ("fee", "type_changed") not in changes
