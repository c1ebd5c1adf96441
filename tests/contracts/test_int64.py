"""Numbers a column cannot hold (integers beyond int64, decimals beyond decimal(38, 9)): found only where the
contract's types land one, the same as walking every value but inside ``Any`` (JSON text holds any number), and
rejected as ``int64_overflow`` or ``decimal_overflow`` wherever they are (top level, nested, computed), on both
paths."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from typing import Annotated, Any, Literal

import pytest
from pydantic import AwareDatetime, BaseModel, Field, computed_field, field_serializer

from contracts import Contract, validate_batch
from contracts.dumps import overflow_check, overflows

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


class Priced(Contract, name="priced", mode="discard_row"):
    id: int
    price: decimal.Decimal
    parts: list[dict[str, decimal.Decimal]] = []
    notes: dict[str, Any] = {}


class Serialized(Contract, name="serialized"):
    id: str

    @field_serializer("id")
    def _as_int(self, value: str) -> Any:  # a dump need not follow the annotations
        return int(value) if value.isdigit() else value


ROWS: list[dict[str, Any]] = [
    {"id": 1},
    {"id": BIG},
    {"id": 1, "clock": -BIG - 1, "level": 2},
    {"id": BIG, "parts": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": BIG}], "counts": {"k": -BIG - 1}},
    {"id": BIG // 2},  # the computed field overflows: 2**63
]


@pytest.mark.parametrize("event", ROWS)
def test_checking_by_the_types_finds_what_walking_every_value_finds(event: dict[str, Any]) -> None:
    row = Shipment.model_validate(event).model_dump()
    assert overflow_check(Shipment)(row) == overflows(row)


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
    ("event", "locs"),
    [({"either": BIG}, [("either",)]), ({"either": "x", "anything": [1, {"deep": [BIG]}]}, []),
     ({"colour": 1, "maybe": 1e30}, [])],
)
def test_unions_are_checked_and_any_is_not_since_it_lands_as_json_text(
    event: dict[str, Any], locs: list[tuple[str, ...]]
) -> None:
    row = Exotic.model_validate(event).model_dump()
    assert [e["loc"] for e in overflow_check(Exotic)(row)] == locs


def test_a_dump_that_does_not_follow_the_annotations_is_walked() -> None:
    row = Serialized.model_validate({"id": str(BIG)}).model_dump()
    assert row == {"id": BIG}
    assert [e["loc"] for e in overflow_check(Serialized)(row)] == [("id",)]


@pytest.mark.parametrize(
    ("event", "locs"),
    [({"id": 1, "price": "1.123456789"}, []),
     ({"id": 1, "price": "1.1234567891"}, ["price"]),
     ({"id": 1, "price": "1.50000000000"}, []),  # trailing zeros carry nothing: it fits
     ({"id": 1, "price": "1" * 29}, []),
     ({"id": 1, "price": "1" * 30}, ["price"]),
     ({"id": 1, "price": "0", "parts": [{"a": "1"}, {"b": "0.0000000001"}], "notes": {"n": 1e-20}}, ["parts.1.b"])],
)
@pytest.mark.parametrize("fast", [True, False])
def test_a_decimal_beyond_decimal_38_9_rejects_the_event_on_both_paths(
    event: dict[str, Any], locs: list[str], fast: bool
) -> None:
    result = validate_batch(Priced, [json.dumps(event).encode()] * 8, fast=fast)
    if not locs:
        assert result.accepted_index == list(range(8))
        return
    assert result.accepted_index == []
    assert {(v.loc, v.type) for r in result.rejected for v in r.violations} == {(loc, "decimal_overflow") for loc in locs}
