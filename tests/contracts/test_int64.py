"""Numbers a column cannot hold on the per-row path (integers beyond int64, decimals beyond decimal(38, 9)): found only
where the contract's types can hold one, the same as walking every value, and rejected as ``int64_overflow`` or
``decimal_overflow`` wherever they are (top level, nested, computed)."""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import AwareDatetime, BaseModel, Field, computed_field, field_serializer

from contracts import Contract, validate_batch
from contracts.dumps import OverflowKeys, overflow_keys, overflows

BIG = 2**63


class Colour(enum.IntEnum):
    RED = 1


class Part(BaseModel):
    sku: str
    qty: int


class Shipment(Contract, name="shipments", mode="discard_row"):
    id: int
    clock: Annotated[int, Field(description="HHMM")] | None = None
    level: Literal[1, 2] = 1
    label: Literal["a", "b"] = "a"
    weight: float = 0.0
    flag: bool = False
    at: AwareDatetime | None = None
    day: dt.date | None = None
    parts: list[Part] = []
    counts: dict[str, int] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def doubled(self) -> int:
        return self.id * 2


class Exotic(BaseModel):
    either: int | str = 0
    colour: Colour = Colour.RED
    anything: Any = None
    maybe: Annotated[float | None, Field(ge=0)] = None


class Serialized(Contract, name="serialized"):
    id: str

    @field_serializer("id")
    def _as_int(self, value: str) -> Any:  # a dump need not follow the annotations
        return int(value) if value.isdigit() else value


def test_overflow_keys_are_the_fields_that_can_hold_an_int_or_a_decimal() -> None:
    assert overflow_keys(Shipment) == OverflowKeys(scalars=("id", "clock", "level", "doubled"), nested=("parts", "counts"))
    assert overflow_keys(Exotic) == OverflowKeys(scalars=("either",), nested=("anything",))
    assert overflow_keys(Serialized) is None  # a serializer: every value is walked


ROWS: list[dict[str, Any]] = [
    {"id": 1},
    {"id": BIG},
    {"id": 1, "clock": -BIG - 1, "level": 2},
    {"id": BIG, "parts": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": BIG}], "counts": {"k": -BIG - 1}},
    {"id": BIG // 2},  # the computed field overflows: 2**63
]


@pytest.mark.parametrize("event", ROWS)
def test_checking_the_overflow_keys_finds_what_walking_every_value_finds(event: dict[str, Any]) -> None:
    row = Shipment.model_validate(event).model_dump()
    assert overflows(row, overflow_keys(Shipment)) == overflows(row)


@pytest.mark.parametrize("event", ROWS)
def test_an_integer_beyond_int64_anywhere_rejects_the_event(event: dict[str, Any]) -> None:
    result = validate_batch(Shipment, [json.dumps(event).encode()])
    walked = overflows(Shipment.model_validate(event).model_dump())
    if not walked:
        assert result.accepted_index == [0]
        return
    assert result.accepted_index == []
    (rejection,) = result.rejected
    assert [v.loc for v in rejection.violations] == [".".join(map(str, e["loc"])) for e in walked]
    assert {v.type for v in rejection.violations} == {"int64_overflow"}


@pytest.mark.parametrize(
    "event", [{"either": BIG}, {"either": "x", "anything": [1, {"deep": [BIG]}]}, {"colour": 1, "maybe": 1e30}]
)
def test_unions_and_any_are_checked_like_walking_every_value(event: dict[str, Any]) -> None:
    row = Exotic.model_validate(event).model_dump()
    assert overflows(row, overflow_keys(Exotic)) == overflows(row)


def test_a_dump_that_does_not_follow_the_annotations_is_walked() -> None:
    row = Serialized.model_validate({"id": str(BIG)}).model_dump()
    assert row == {"id": BIG}
    assert [e["loc"] for e in overflows(row, overflow_keys(Serialized))] == [("id",)]
