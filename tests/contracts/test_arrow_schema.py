"""Compiling contracts to Arrow schemas."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Literal

import pyarrow as pa
import pytest
from pydantic import AwareDatetime, BaseModel, computed_field

from contracts import Contract, UnsupportedTypeError, contract_arrow_schema


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    city: str
    zip: str | None = None


class Everything(Contract, name="everything"):
    flag: bool
    count: int
    ratio: float
    label: str
    kind: Literal["a", "b"]
    color: Color
    price: decimal.Decimal
    at: dt.datetime
    aware: AwareDatetime
    day: dt.date
    maybe: int | None = None
    tags: list[str]
    address: Address
    attributes: dict[str, int]

    @computed_field
    @property
    def doubled(self) -> int:
        return self.count * 2


def test_every_supported_annotation_maps_to_its_arrow_type() -> None:
    schema = contract_arrow_schema(Everything)
    expected = {
        "flag": pa.bool_(),
        "count": pa.int64(),
        "ratio": pa.float64(),
        "label": pa.string(),
        "kind": pa.string(),
        "color": pa.string(),
        "price": pa.decimal128(38, 9),
        "at": pa.timestamp("us", tz="UTC"),
        "aware": pa.timestamp("us", tz="UTC"),
        "day": pa.date32(),
        "maybe": pa.int64(),
        "tags": pa.list_(pa.field("item", pa.string(), nullable=False)),
        "address": pa.struct([pa.field("city", pa.string(), nullable=False), pa.field("zip", pa.string())]),
        "attributes": pa.map_(pa.string(), pa.field("value", pa.int64(), nullable=False)),
        "doubled": pa.int64(),
    }
    assert schema.names == list(expected)
    for name, arrow_type in expected.items():
        assert schema.field(name).type == arrow_type, name
    assert schema.field("maybe").nullable and not schema.field("count").nullable


def test_an_unsupported_type_names_the_field() -> None:
    class Ambiguous(Contract, name="ambiguous"):
        value: int | str

    with pytest.raises(UnsupportedTypeError, match=r"Ambiguous\.value"):
        contract_arrow_schema(Ambiguous)
