"""Mode precedence: field override > contract > pipeline config > defaults, and how each mode treats an event."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from contracts import Contract, ContractDeclarationError, ContractFrozenError, validate_batch
from contracts.modes import ContractModes, Mode, resolve_modes
from tests.fixtures.agreement import assert_paths_agree


class Address(BaseModel):
    city: str
    zip: Annotated[str | None, Mode("discard_value")] = None


class Customer(Contract, name="customers", mode={"data_type": "discard_row"}):
    customer_id: int
    nickname: Annotated[str | None, Mode("discard_value")] = None
    age: Annotated[int | None, Field(ge=0)] = None
    score: Annotated[float, Mode("freeze")] = 0.0
    address: Annotated[Address | None, Mode({"columns": "discard_value"})] = None


def _b(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_field_overrides_are_collected_with_dotted_paths() -> None:
    info = Customer.__contract__
    assert info.declared_modes == {"data_type": "discard_row"}
    assert info.field_modes == {
        "nickname": {"columns": "discard_value", "data_type": "discard_value"},
        "score": {"columns": "freeze", "data_type": "freeze"},
        "address": {"columns": "discard_value"},
        "address.zip": {"columns": "discard_value", "data_type": "discard_value"},
    }


def test_precedence_field_then_contract_then_pipeline_then_defaults() -> None:
    modes = resolve_modes(Customer, {"columns": "freeze", "data_type": "evolve", "tables": "freeze"})
    # the contract set data_type; the pipeline config fills only columns and tables
    assert modes.contract == ContractModes(tables="freeze", columns="freeze", data_type="discard_row")
    assert modes.for_loc(("age",), "data_type") == "discard_row"  # contract
    assert modes.for_loc(("nickname",), "data_type") == "discard_value"  # field
    assert modes.for_loc(("coupon",), "columns") == "freeze"  # pipeline config
    assert modes.for_loc(("address", "floor"), "columns") == "discard_value"  # field, nested key
    assert modes.for_loc(("address", "zip"), "data_type") == "discard_value"  # deepest field wins
    assert modes.for_loc(("address", "city"), "data_type") == "discard_row"  # no override on the path
    assert resolve_modes(Customer).contract == ContractModes()  # no config: defaults fill in


def test_a_field_override_decides_for_its_own_violation() -> None:
    events = [
        _b({"customer_id": 1, "nickname": 7}),  # field: discard_value → lands without nickname
        _b({"customer_id": 2, "age": -1}),  # contract: discard_row → quarantined
        _b({"customer_id": 3, "address": {"city": "Oslo", "floor": 3}}),  # nested columns: discard_value
    ]
    result = validate_batch(Customer, events)
    assert result.accepted_index == [0, 2]
    assert [r["nickname"] for r in result.accepted.to_pylist()] == [None, None]
    dispositions = {r.index: (r.disposition, r.removed) for r in result.rejected}
    assert dispositions[0] == ("value_discarded", {"nickname": 7})
    assert dispositions[1][0] == "row_discarded"
    # a nested violation removes only the nested value, and quarantines it
    assert dispositions[2] == ("value_discarded", {"address": {"floor": 3}})
    assert result.accepted.to_pylist()[1]["address"] == {"city": "Oslo", "zip": None}


def test_the_harshest_mode_of_an_event_decides() -> None:
    result = validate_batch(Customer, [_b({"customer_id": 1, "nickname": 7, "age": -1})])
    (rejection,) = result.rejected
    assert rejection.disposition == "row_discarded"
    assert {(v.loc, v.mode) for v in rejection.violations} == {("nickname", "discard_value"), ("age", "discard_row")}
    with pytest.raises(ContractFrozenError, match="field 'score'"):
        validate_batch(Customer, [_b({"customer_id": 1, "nickname": 7, "score": "high"})])


def test_field_overrides_reject_the_tables_entity_and_unknown_modes() -> None:
    with pytest.raises(ContractDeclarationError, match="unknown contract entity 'tables'"):
        Mode({"tables": "freeze"})
    with pytest.raises(ContractDeclarationError, match="unknown contract mode"):
        Mode("lenient")  # type: ignore[arg-type]


class Item(BaseModel):
    sku: str
    note: str | None = None


class Street(BaseModel):
    name: str
    number: int | None = None


class Place(BaseModel):
    street: Street
    zip: Annotated[str | None, Mode("discard_value")] = None
    city: str


class Delivery(Contract, name="deliveries", mode={"data_type": "discard_value"}):
    delivery_id: Annotated[int, Mode("discard_row")]
    place: Place | None = None
    items: list[Item] | None = None


def test_discard_value_removes_a_nested_value_where_it_is_and_climbs_only_when_the_model_requires_it() -> None:
    place = {"street": {"name": "Storgata", "number": 3}, "zip": "0155", "city": "Oslo"}
    events = [_b({"delivery_id": i, "place": place, "items": [{"sku": "a"}]}) for i in range(10)]
    events[0] = _b({"delivery_id": 0, "place": {**place, "zip": 155}})  # nested override: only zip goes
    events[1] = _b({"delivery_id": 1, "place": {**place, "street": {"name": "S", "number": "x3"}}})  # two deep
    events[2] = _b({"delivery_id": 2, "place": {**place, "city": 7}})  # required: the place goes
    events[3] = _b({"delivery_id": 3, "place": {**place, "street": {"number": 1}}})  # a required key missing
    events[4] = _b({"delivery_id": 4, "items": [{"sku": "a"}, {"sku": "b", "note": 5}]})  # in a list: the list
    events[5] = _b({"delivery_id": 5, "place": {**place, "zip": 1, "city": 2}})  # both: the place, once

    result = validate_batch(Delivery, events)

    rows = {row["delivery_id"]: row for row in result.accepted.to_pylist()}
    removed = {r.index: (r.disposition, r.removed) for r in result.rejected}
    assert removed == {
        0: ("value_discarded", {"place": {"zip": 155}}),
        1: ("value_discarded", {"place": {"street": {"number": "x3"}}}),
        2: ("value_discarded", {"place": {**place, "city": 7}}),
        3: ("value_discarded", {"place": {**place, "street": {"number": 1}}}),
        4: ("value_discarded", {"items": [{"sku": "a"}, {"sku": "b", "note": 5}]}),
        5: ("value_discarded", {"place": {**place, "zip": 1, "city": 2}}),
    }
    assert rows[0]["place"] == {**place, "zip": None}
    assert rows[1]["place"] == {**place, "street": {"name": "S", "number": None}}
    assert rows[2]["place"] is None and rows[3]["place"] is None and rows[5]["place"] is None
    assert rows[4]["items"] is None and rows[6]["items"] == [{"sku": "a", "note": None}]
    assert_paths_agree(Delivery, events)


class Opened(BaseModel):
    type: Literal["opened"]
    count: int


class Closed(BaseModel):
    type: Literal["closed"]
    reason: Annotated[str | None, Mode("discard_value")] = None


class Door(Contract, name="doors"):
    door_id: int
    event: Annotated[Opened | Closed, Field(discriminator="type")]


def test_a_field_override_inside_a_tagged_union_member_holds_though_pydantic_puts_the_tag_in_the_loc() -> None:
    events = [_b({"door_id": i, "event": {"type": "closed", "reason": "wind"}}) for i in range(10)]
    events[2] = _b({"door_id": 2, "event": {"type": "closed", "reason": 5}})  # the override: only reason goes
    events[3] = _b({"door_id": 3, "event": {"type": "opened", "count": "many"}})  # no override: the row goes

    result = validate_batch(Door, events)

    rejected = {r.index: (r.disposition, [(v.loc, v.mode) for v in r.violations], r.removed) for r in result.rejected}
    assert rejected == {
        2: ("value_discarded", [("event.closed.reason", "discard_value")], {"event": {"reason": 5}}),
        3: ("row_discarded", [("event.opened.count", "discard_row")], {}),
    }
    assert result.accepted.to_pylist()[2]["event"] == {"type": "closed", "count": None, "reason": None}
    assert_paths_agree(Door, events)
