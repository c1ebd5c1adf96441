"""Nested, list, union and constrained fields: the fast path and the per-row pydantic path give the same verdict, the
same violations (nested locs such as ``properties.products.0.quantity``) and the same landed values for every
generated event (a hypothesis property).

Events are a camelCase Segment-style track event: nested models (one optional), a list of models with constraints
inside, lists and dicts of scalars and of ``Any``, a tagged union, UUIDs, decimals with digits and places, dates,
times, an IntEnum, string transforms, a per-field fallback (a ``field_validator``, an ``EmailStr``) and defaults.
Values are drawn conforming, at the edges, coercible by pydantic (``"2"``, ``2.0``, ``true``) or refused, at every
depth; keys are dropped, added, duplicated or sent by name instead of alias.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Annotated, Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict, EmailStr, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from bench.segment_contract import Camel, Library
from contracts import Contract, validate_batch
from contracts.fast import coverage, fast_plan
from tests.fixtures.agreement import assert_paths_agree


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Page(Camel):
    path: str
    referrer: str | None = None


class Context(Camel):
    library: Library
    locale: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=5)]
    page: Page | None = None
    email: EmailStr | None = None


class Product(Camel):
    product_id: str = Field(min_length=1)
    quantity: int = Field(ge=1, le=1000)
    price: decimal.Decimal = Field(max_digits=8, decimal_places=2, ge=0)
    category: str | None = None
    tags: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)


class Card(Camel):
    kind: Literal["card"]
    last4: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class Transfer(Camel):
    kind: Literal["transfer"]
    iban: str = Field(min_length=4, max_length=34)
    instant: bool = False


class Properties(Camel):
    order_id: str
    total: float = Field(ge=0)
    currency: Literal["EUR", "USD"]
    products: list[Product] = Field(min_length=1, max_length=4)
    payment: Card | Transfer | None = Field(None, discriminator="kind")
    coupons: dict[str, int] = Field(default_factory=dict)


class Track(Contract, name="nested_probe", mode="discard_row"):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    message_id: uuid.UUID
    type: Literal["track"]
    user_id: str | None = None
    sent_at: dt.datetime
    day: dt.date | None = None
    clock: dt.time | None = None
    priority: Priority = Priority.LOW
    context: Context
    properties: Properties
    traits: dict[str, Any] = Field(default_factory=dict)
    sku: str = "NONE"

    @field_validator("sku")
    @classmethod
    def _upper(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("a SKU is upper case")
        return value


INTS = st.sampled_from([0, 1, 5, 1000, 1001, -1, 2**63, -(2**63) - 1, "2", 2.0, 2.5, True, None])
NUMBERS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["1.5", -0.0, 7, -3, None]))
DECIMALS = st.one_of(
    st.decimals(min_value=-1, max_value=10**6, places=2).map(str),
    st.sampled_from(["19.99", "0", "-0.01", "123456.78", "1234567.89", "1.005", "1.50", "1e2", " 1.5", "1_0", "x"]),
    st.sampled_from([19.99, 0.1, 1e-3, 100, 10**7, 1.5, -1, True, None]),
)
TEXT = st.one_of(st.text(max_size=6), st.sampled_from(["", "a", "NL", "2.11.1", "2.11", "Abc", " NL-nl ", "é", 7]))
ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT,
                     st.lists(st.integers(), max_size=2), st.just({"x": [1, {"y": None}]}))
# Values pydantic coerces, refuses, or that sit at an edge, by key (every depth has its own).
ODD: dict[str, st.SearchStrategy[Any]] = {
    "messageId": st.sampled_from(["9F0E6B5C3A1D4E2B8C7D1234567890AB", "{9f0e6b5c-3a1d-4e2b-8c7d-1234567890ab}",
                                  "9f0e6b5c-3a1d-4e2b-8c7d-1234567890aZ", "x", 1]),
    "type": st.sampled_from(["Track", "", None]),
    "sentAt": st.one_of(st.sampled_from(["2026-01-01T10:00:00.5+05:30", "2026-01-01T10:00:00", "2026-01-01 10:00:00Z",
                                         "2026-02-30T00:00:00Z", "2026-01-01T10:00:00.1234567Z", "1700000000",
                                         1700000000, "0001-01-01T00:00:00+01:00"]),
                        st.datetimes().map(dt.datetime.isoformat)),
    "day": st.sampled_from(["2026-02-29", "2024-02-29", "2026-1-1", "2026-01-01T00:00:00", None, 20260101]),
    "clock": st.sampled_from(["23:59:59.123456", "24:00:00", "12:00", "12:00:00Z", "12:00:00.1234567", None]),
    "priority": st.sampled_from([2, 3, "1", 1.0, True, None]),
    "userId": st.one_of(TEXT, st.none(), st.integers()),
    "sku": st.sampled_from(["AB", "ab", 1, None, "É"]),
    "name": TEXT,
    "version": st.sampled_from(["10.0.0", "2.11", "1.2.3.4", "١.٢.٣", 2]),
    "locale": st.sampled_from([" EN-us ", "nl-NL ", "toolong", "", None, 5]),
    "path": TEXT,
    "referrer": st.one_of(TEXT, st.none()),
    "email": st.sampled_from(["ada@example.com", "ada", None, 3]),
    "orderId": TEXT,
    "total": NUMBERS,
    "currency": st.sampled_from(["eur", "GBP", 1, None]),
    "productId": TEXT,
    "quantity": INTS,
    "price": DECIMALS,
    "category": st.one_of(TEXT, st.none()),
    "tags": st.lists(TEXT, max_size=3),
    "kind": st.sampled_from(["cash", "transfer", "card", 1, None]),
    "last4": TEXT,
    "iban": TEXT,
    "instant": st.sampled_from([1, "true", None]),
    "coupons": st.dictionaries(st.sampled_from(["a", "b"]), INTS, max_size=2),
    "traits": st.dictionaries(st.sampled_from(["plan", "seats"]), ANYTHING, max_size=2),
}


@st.composite
def products(draw: st.DrawFn) -> dict[str, Any]:
    product: dict[str, Any] = {
        "productId": draw(st.sampled_from(["p1", "p-22"])),
        "quantity": draw(st.integers(1, 1000)),
        "price": draw(st.sampled_from(["9.99", 12.5, 3, "0.10", 999999.99])),
    }
    if draw(st.booleans()):
        product["category"] = draw(st.sampled_from(["toys", None]))
    if draw(st.booleans()):
        product["tags"] = draw(st.lists(st.sampled_from(["a", "bb"]), max_size=3))
    return product


@st.composite
def conforming(draw: st.DrawFn) -> dict[str, Any]:
    """A conforming event, its optional parts present or not."""
    context: dict[str, Any] = {
        "library": {"name": "analytics.js", "version": draw(st.sampled_from(["2.11.1", "10.0.0"]))},
        "locale": draw(st.sampled_from(["nl-NL", " EN-us ", "de"])),
    }
    if draw(st.booleans()):
        context["page"] = draw(st.sampled_from([{"path": "/checkout"}, {"path": "/", "referrer": None}, None]))
    properties: dict[str, Any] = {
        "orderId": "o-1",
        "total": draw(st.floats(0, 1000)),
        "currency": draw(st.sampled_from(["EUR", "USD"])),
        "products": draw(st.lists(products(), min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        properties["payment"] = draw(st.sampled_from([
            {"kind": "card", "last4": "1234"}, {"last4": "0000", "kind": "card"}, None,
            {"kind": "transfer", "iban": "NL91ABNA0417164300"}, {"iban": "NL91", "instant": True, "kind": "transfer"},
        ]))
    if draw(st.booleans()):
        properties["coupons"] = draw(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(-5, 5), max_size=2))
    event: dict[str, Any] = {
        "messageId": str(draw(st.uuids())),
        "type": "track",
        "sentAt": draw(st.sampled_from(["2026-01-01T10:00:00Z", "2026-06-01T10:00:00.123+02:00",
                                        "2026-01-01T10:00:00"])),
        "context": context,
        "properties": properties,
    }
    for key, value in (("userId", st.sampled_from(["u1", None])), ("day", st.just("2026-02-28")),
                       ("clock", st.just("23:59:59")), ("priority", st.sampled_from([1, 2])),
                       ("traits", st.dictionaries(st.sampled_from(["plan", "seats"]), ANYTHING, max_size=2)),
                       ("sku", st.just("AB"))):
        if draw(st.booleans()):
            event[key] = copy.deepcopy(draw(value))
    return event


def _slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in an event, at every depth."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((value, key))
            found.extend(_slots(item))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((value, index))
            found.extend(_slots(item))
    return found


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


@st.composite
def events(draw: st.DrawFn) -> bytes | None:
    """A conforming event with up to three changes anywhere: a value replaced by an odd one for its key, a key
    dropped, an undeclared key added, a key sent by its field name beside or instead of its alias."""
    event = copy.deepcopy(draw(conforming()))  # sampled parts are shared objects: change a copy
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        container, key = draw(st.sampled_from(_slots(event)))
        change = draw(st.sampled_from(["value", "value", "value", "drop", "extra", "name"]))
        if isinstance(container, list):
            if change == "drop":
                del container[key]
            else:
                container[key] = copy.deepcopy(draw(st.one_of(ANYTHING, st.builds(dict))))
        elif change == "value":
            container[key] = copy.deepcopy(draw(ODD.get(key, ANYTHING)))
        elif change == "drop":
            del container[key]
        elif change == "extra":
            container[draw(st.sampled_from(["extra", "Extra", "x"]))] = copy.deepcopy(draw(ANYTHING))
        elif _snake(key) != key:
            container[_snake(key)] = container[key] if draw(st.booleans()) else container.pop(key)
    text = json.dumps(event)
    corruption = draw(st.integers(0, 39))
    if corruption == 0:
        return None
    if corruption == 1:
        return text[: len(text) // 2].encode()
    if corruption == 2:  # a duplicate key deep inside
        return text.replace('"orderId": ', '"orderId": "dup", "orderId": ', 1).encode()
    return text.encode()


def test_the_probe_decodes_natively_but_for_its_fallback_fields() -> None:
    found = coverage(Track)
    assert found.per_row is None
    assert found.route("properties") == "columns" and found.route("properties.products") == "columns"
    assert found.route("properties.payment") == "columns" and found.route("traits") == "columns"
    assert found.route("sku") == "field" and found.route("context.email") == "field"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(events(), min_size=1, max_size=12))
def test_both_paths_give_the_same_verdicts_violations_and_values(payloads: list[bytes | None]) -> None:
    assert_paths_agree(Track, payloads)


GOOD = {
    "messageId": "9f0e6b5c-3a1d-4e2b-8c7d-1234567890ab", "type": "track", "sentAt": "2026-01-01T10:00:00Z",
    "context": {"library": {"name": "analytics.js", "version": "2.11.1"}, "locale": "nl-NL"},
    "properties": {"orderId": "o-1", "total": 27.5, "currency": "EUR",
                   "products": [{"productId": "p1", "quantity": 1, "price": "9.99"},
                                {"productId": "p2", "quantity": 2, "price": 8.75, "tags": ["a"]}]},
}


def test_a_violation_inside_a_list_of_models_is_located_there_and_the_rest_of_the_batch_is_decoded() -> None:
    bad = json.loads(json.dumps(GOOD))
    bad["properties"]["products"][1]["quantity"] = 0
    payloads = [json.dumps(GOOD).encode(), json.dumps(bad).encode()] * 5
    plan = fast_plan(Track)
    assert plan is not None
    split = plan.split(payloads)
    assert split.clean_index == [0, 2, 4, 6, 8] and split.rest == [1, 3, 5, 7, 9]
    result = validate_batch(Track, payloads)
    assert result.accepted_index == [0, 2, 4, 6, 8]
    assert {v.loc for r in result.rejected for v in r.violations} == {"properties.products.1.quantity"}
    row = result.accepted.to_pylist()[0]
    assert row["properties"]["products"][1]["price"] == decimal.Decimal("8.750000000")
    assert row["message_id"] == "9f0e6b5c-3a1d-4e2b-8c7d-1234567890ab" and row["traits"] == []


class Counts(Contract, name="counts_probe"):
    counts: dict[str, int]


def test_a_key_twice_in_a_large_dict_is_left_to_pydantic_and_the_others_decode() -> None:
    many = ", ".join(f'"k{i}": {i}' for i in range(40))
    payloads = [f'{{"counts": {{{many}}}}}'.encode(), f'{{"counts": {{{many}, "k3": 7}}}}'.encode()] * 4
    plan = fast_plan(Counts)
    assert plan is not None
    assert plan.split(payloads).rest == [1, 3, 5, 7]
    assert_paths_agree(Counts, payloads)
    assert dict(validate_batch(Counts, payloads).accepted.column("counts")[1].as_py())["k3"] == 7  # the last one
