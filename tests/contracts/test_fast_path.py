"""The fast path and the per-row pydantic path give the same verdict on every event (a hypothesis property).

Events are generated per field from conforming values, boundary values and values pydantic coerces or rejects
(numeric strings, floats for integers, booleans, nulls, out-of-range numbers, strings beside a pattern, datetimes in
every shape speedate reads or refuses), with keys dropped or added and payloads corrupted now and then.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, Field, computed_field, field_validator

from contracts import Contract, Tag, validate_batch
from contracts.fast import coverage, fast_plan
from contracts.modes import Mode
from tests.fixtures.agreement import assert_paths_agree

Clock = Annotated[int, Field(ge=0, le=2400)]


class Currency(str, enum.Enum):
    EUR = "EUR"
    USD = "USD"


class Colour(enum.Enum):  # not a str enum: its members do not dump as text
    RED = "red"


class Probe(Contract, name="probe", mode={"columns": "discard_value"}):
    id: int
    count: int = Field(ge=0, le=1000)
    ratio: float = Field(gt=-1.5, lt=100)
    flag: bool
    name: Annotated[str, Field(min_length=1, max_length=8, pattern=r"^[a-z]+$"), Tag("name")]
    kind: Literal["a", "b", "c"]
    level: Literal[1, 2, 3]
    note: Annotated[str | None, Mode("discard_value")] = None
    score: float | None = None
    clock: Clock | None = None
    at: dt.datetime
    aware: AwareDatetime | None = None
    day: dt.date
    small: int = 5
    currency: Currency = Currency.EUR


INTS = st.one_of(
    st.integers(-5, 1005), st.integers(), st.sampled_from([0, 1000, 2400, 2401, -1, 2**63 - 1, 2**63, -(2**63) - 1])
)
NUMBERS = st.one_of(INTS, st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([-1.5, 100.0, 1.0, 2.5]))
STRINGS = st.one_of(st.text(max_size=10), st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.sampled_from(["", "abcdefghi", "ABC", "ab1", "é"]))
DATETIMES = st.one_of(
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))])).map(
        lambda d: d.isoformat()
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from([
        "2026-11-01T12:00:00Z", "2026-11-01T12:00:00.5+02:00", "2026-11-01T12:00:00", "2026-11-01",
        "2026-11-01 12:00:00Z", "2026-11-01t12:00:00z", "2026-02-30T12:00:00Z", "2026-11-01T24:00:00Z",
        "2026-11-01T12:00:00.1234567Z", "2026-11-01T12:00Z", "1700000000", "yesterday", "2026-13-01T00:00:00Z",
    ]),
)
DATES = st.one_of(st.dates().map(dt.date.isoformat), st.sampled_from(["2026-02-29", "2024-02-29", "2026-11-01T00:00:00", "20261101"]))
# What JSON parsers disagree on: NaN and infinities (pydantic reads them, msgspec refuses), -0.0, lone surrogates.
ODD = st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 2**64, "\ud800", "a\udfff", "\x00"])
ANY = st.one_of(
    st.none(), st.booleans(), INTS, NUMBERS, STRINGS, ODD, st.lists(st.integers(), max_size=2), st.just({"x": 1})
)


def _field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, ANY)  # mostly plausible values, sometimes anything


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": _field(INTS),
    "count": _field(st.one_of(st.integers(-2, 1002), st.sampled_from(["7", 7.0, 7.5, True]))),
    "ratio": _field(NUMBERS),
    "flag": _field(st.one_of(st.booleans(), st.sampled_from(["true", 0, 1]))),
    "name": _field(STRINGS),
    "kind": _field(st.sampled_from(["a", "b", "c", "d", "A"])),
    "level": _field(st.sampled_from([1, 2, 3, 4, "1", 1.0, True])),
    "note": _field(st.one_of(st.none(), STRINGS)),
    "score": _field(st.one_of(st.none(), NUMBERS)),
    "clock": _field(st.one_of(st.none(), INTS)),
    "at": _field(DATETIMES),
    "aware": _field(st.one_of(st.none(), DATETIMES)),
    "day": _field(DATES),
    "small": _field(INTS),
    "currency": _field(st.sampled_from(["EUR", "USD", "GBP", "eur"])),
}
CONFORMING = {
    "id": 1, "count": 3, "ratio": 0.5, "flag": True, "name": "abc", "kind": "a", "level": 2,
    "at": "2026-11-01T12:00:00Z", "day": "2026-11-01",
}


@st.composite
def events(draw: st.DrawFn) -> bytes | None:
    event = dict(CONFORMING)
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=4)):
        event[name] = draw(FIELDS[name])
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)), max_size=1)):
        event.pop(name, None)
    if draw(st.integers(0, 19)) == 0:
        event[draw(st.sampled_from(["extra", "Id", "count "]))] = draw(ANY)
    text = json.dumps(event)
    corruption = draw(st.integers(0, 44))
    if corruption == 0:
        return None
    if corruption == 1:
        return text[: len(text) // 2].encode()
    if corruption == 2:
        return b"[1, 2]"
    if corruption == 3:
        return (text[:-1] + ', "id": "dup"}').encode()  # a duplicate key: the last one counts for both parsers
    if corruption == 4:
        return b"\xff" + text.encode()
    if corruption == 5:  # a duplicate key whose last value is the valid one
        return (text[:-1] + ', "id": 7}').encode()
    return text.encode()


def test_the_probe_contract_compiles_to_a_fast_plan() -> None:
    assert fast_plan(Probe) is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=25))
def test_both_paths_give_the_same_verdict_on_every_event(payloads: list[bytes | None]) -> None:
    assert_paths_agree(Probe, payloads)


def test_clean_events_skip_pydantic_and_the_rest_is_judged_per_row() -> None:
    plan = fast_plan(Probe)
    assert plan is not None
    payloads = [json.dumps(CONFORMING).encode()] * 3 + [json.dumps({**CONFORMING, "count": "7"}).encode()]
    split = plan.split(payloads)
    assert split.clean_index == [0, 1, 2] and split.rest == [3]
    result = validate_batch(Probe, payloads)
    assert result.accepted_index == [0, 1, 2, 3]  # pydantic coerces "7" to 7: accepted by the per-row path
    assert result.accepted.column("count").to_pylist() == [3, 3, 3, 7]


class WithValidator(Contract, name="validated"):
    a: int

    @field_validator("a")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("odd")
        return value


class WithComputed(Contract, name="computed"):
    a: int

    @computed_field
    @property
    def b(self) -> int:
        return self.a * 2


class WithMultiple(Contract, name="multiple"):
    a: int = Field(multiple_of=3)


class WithPlainEnum(Contract, name="plain_enum"):
    a: int
    colour: Colour | None = None


@pytest.mark.parametrize(
    ("contract", "field", "route"),
    [(WithValidator, "a", "field"), (WithComputed, "b", "columns"), (WithMultiple, "a", "columns"),
     (WithPlainEnum, "colour", "field")],
)
def test_validators_computed_fields_multiples_and_plain_enums_stay_on_the_fast_path(
    contract: type[Contract], field: str, route: str
) -> None:
    assert fast_plan(contract) is not None
    assert coverage(contract).route(field) == route
    payloads = [b'{"a": 3}', b'{"a": 4}', b'{"a": 6, "colour": "red"}', b'{"a": "x"}', b'{"a": 9}'] * 2
    assert_paths_agree(contract, payloads)
    fast = validate_batch(contract, payloads, fast=True)
    assert fast.accepted.num_rows + len([r for r in fast.rejected if r.disposition != "value_discarded"]) == 10


def _probe(**changes: Any) -> dict[str, Any]:
    return {**CONFORMING, **changes}


# Payloads msgspec and pydantic read differently, or that a JSON parser may get wrong: each must leave the fast
# path (pydantic judges it) or be accepted with exactly pydantic's values.
TRAPS: dict[str, bytes] = {
    "float for int": json.dumps(_probe(id=1.0)).encode(),
    "exponent for int": json.dumps(_probe(id=1)).replace('"id": 1', '"id": 1e0').encode(),
    "true for int": json.dumps(_probe(count=True)).encode(),
    "int for bool": json.dumps(_probe(flag=1)).encode(),
    "string for bool": json.dumps(_probe(flag="true")).encode(),
    "beyond int64": json.dumps(_probe(id=2**63)).encode(),
    "below int64": json.dumps(_probe(id=-(2**63) - 1)).encode(),
    "beyond uint64": json.dumps(_probe(id=2**64 + 1)).encode(),
    "int64 max": json.dumps(_probe(id=2**63 - 1)).encode(),
    "int64 min": json.dumps(_probe(id=-(2**63))).encode(),
    "NaN": json.dumps(_probe(score=float("nan"))).encode(),
    "Infinity": json.dumps(_probe(score=float("inf"))).encode(),
    "-Infinity": json.dumps(_probe(ratio=float("-inf"))).encode(),
    "beyond float": json.dumps(_probe(score=1)).replace('"score": 1', '"score": 1e400').encode(),
    "huge int for float": json.dumps(_probe(score=10**400)).encode(),
    "int for float": json.dumps(_probe(score=7)).encode(),
    "int beyond 2**53 for float": json.dumps(_probe(score=2**53 + 1)).encode(),
    "negative zero": json.dumps(_probe(ratio=-0.0)).encode(),
    "underflow to -0.0": json.dumps(_probe(score=1)).replace('"score": 1', '"score": -1e-400').encode(),
    "subnormal": json.dumps(_probe(score=1)).replace('"score": 1', '"score": 4.9e-324').encode(),
    "halfway digits": json.dumps(_probe(score=1)).replace(
        '"score": 1', '"score": 1.00000000000000011102230246251565404236316680908203125'
    ).encode(),
    "rounds past max float": json.dumps(_probe(score=1)).replace('"score": 1', '"score": 1.7976931348623159e308').encode(),
    "negative zero int": json.dumps(_probe(id=0)).replace('"id": 0', '"id": -0').encode(),
    "lone high surrogate": json.dumps(_probe(note="a\ud800")).encode(),
    "lone low surrogate": json.dumps(_probe(note="\udc00")).encode(),
    "surrogate pair": json.dumps(_probe(note="a\U0001f600")).encode(),
    "not UTF-8 in a string": json.dumps(_probe(note="ab")).encode().replace(b'"ab"', b'"a\xffb"'),
    "duplicate key, last valid": (json.dumps(_probe(id="x"))[:-1] + ', "id": 5}').encode(),
    "duplicate key, last invalid": (json.dumps(_probe(id=5))[:-1] + ', "id": "x"}').encode(),
    "duplicate key, last out of range": (json.dumps(_probe(count=5))[:-1] + ', "count": 5000}').encode(),
    "escaped key": json.dumps(_probe()).replace('"id"', '"\\u0069d"').encode(),
    "escaped value": json.dumps(_probe(kind="a")).replace('"kind": "a"', '"kind": "\\u0061"').encode(),
    "byte order mark": b"\xef\xbb\xbf" + json.dumps(_probe()).encode(),
    "trailing garbage": json.dumps(_probe()).encode() + b" x",
    "two objects": json.dumps(_probe()).encode() * 2,
    "surrounding whitespace": b" \n" + json.dumps(_probe()).encode() + b"\r\n",
    "null payload": b"null",
    "array payload": b"[]",
    "string payload": b'"x"',
    "empty payload": b"",
    "null for a required field": json.dumps(_probe(name=None)).encode(),
    "null for an optional non-nullable field": json.dumps(_probe(small=None)).encode(),
    "optional fields missing": json.dumps({k: v for k, v in _probe().items() if k not in ("small", "currency")}).encode(),
    "nested object": json.dumps(_probe(note={"a": 1})).encode(),
    "enum value by name": json.dumps(_probe(currency="Currency.EUR")).encode(),
    "int literal as float": json.dumps(_probe(level=2.0)).encode(),
    "int literal as bool": json.dumps(_probe(level=True)).encode(),
    "datetime without zone": json.dumps(_probe(aware="2026-11-01T12:00:00")).encode(),
    "datetime with lowercase t": json.dumps(_probe(at="2026-11-01t12:00:00Z")).encode(),
    "impossible date": json.dumps(_probe(day="2026-02-30")).encode(),
}


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_traps_get_the_same_verdict_and_values_on_both_paths(name: str) -> None:
    assert_paths_agree(Probe, [json.dumps(CONFORMING).encode(), TRAPS[name]])


@pytest.mark.parametrize(
    "name",
    ["float for int", "exponent for int", "true for int", "int for bool", "beyond int64", "below int64",
     "beyond uint64", "NaN", "Infinity", "beyond float", "huge int for float", "lone high surrogate",
     "not UTF-8 in a string", "duplicate key, last valid", "byte order mark", "two objects", "null payload",
     "empty payload", "int literal as float", "datetime without zone", "impossible date", "escaped key"],
)
def test_what_msgspec_refuses_or_arrow_cannot_hold_goes_per_row(name: str) -> None:
    plan = fast_plan(Probe)
    assert plan is not None
    split = plan.split([json.dumps(CONFORMING).encode(), TRAPS[name], None])
    assert split.clean_index == [0] and split.rest == [1, 2]
    assert split.clean.num_rows == 1


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [("int64 max", "id", 2**63 - 1), ("int64 min", "id", -(2**63)), ("negative zero", "ratio", -0.0),
     ("int for float", "score", 7.0), ("int beyond 2**53 for float", "score", float(2**53 + 1)),
     ("surrogate pair", "note", "a\U0001f600"), ("escaped value", "kind", "a"),
     ("duplicate key, last invalid", "id", None), ("optional fields missing", "currency", "EUR")],
)
def test_the_fast_path_accepts_exactly_pydantic_s_values(name: str, field: str, value: Any) -> None:
    plan = fast_plan(Probe)
    assert plan is not None
    split = plan.split([TRAPS[name]])
    if value is None:  # not clean: msgspec refuses the invalid last value of a duplicate key
        assert split.rest == [0]
        return
    assert split.clean_index == [0]
    landed = split.clean.column(field)[0].as_py()
    assert repr(landed) == repr(value) and type(landed) is type(value)
    if name == "optional fields missing":
        assert split.clean.column("small").to_pylist() == [5]


class DefaultOfAnotherType(Contract, name="odd_default"):
    a: int
    b: int = "five"  # type: ignore[assignment]  # pydantic does not validate defaults: it would land as "five"


class FloatDefault(Contract, name="float_default"):
    a: int
    b: float = 1


def test_a_default_of_another_type_is_judged_per_row_and_an_int_default_of_a_float_lands_as_float() -> None:
    assert coverage(DefaultOfAnotherType).route("b") == "field"  # its default does not fit its column
    odd = fast_plan(DefaultOfAnotherType)
    assert odd is not None and odd.split([b'{"a": 1}', b'{"a": 1, "b": 2}']).rest == [0]
    plan = fast_plan(FloatDefault)
    assert plan is not None
    payloads = [b'{"a": 1}'] * 8
    fast, slow = validate_batch(FloatDefault, payloads, fast=True), validate_batch(FloatDefault, payloads, fast=False)
    assert fast.accepted.to_pylist() == slow.accepted.to_pylist() == [{"a": 1, "b": 1.0}] * 8


class OddKeys(Contract, name="odd_keys"):
    model_config = {"extra": "forbid"}

    a_b: int
    f0: str  # the Struct's own attribute names (f0, f1…) must not clash with the contract's keys


def test_keys_that_look_like_the_struct_s_attribute_names_decode_to_their_own_fields() -> None:
    payloads = [b'{"a_b": 1, "f0": "x"}', b'{"f0": "y", "a_b": 2}'] * 4
    fast = validate_batch(OddKeys, payloads, fast=True)
    assert fast.accepted.to_pylist() == [{"a_b": 1, "f0": "x"}, {"a_b": 2, "f0": "y"}] * 4
    assert fast_plan(OddKeys) is not None and fast_plan(OddKeys).split(payloads).rest == []  # type: ignore[union-attr]


def test_a_batch_bigger_than_a_chunk_gets_the_same_verdicts_in_batch_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("contracts.fast.CHUNK_EVENTS", 4)
    conforming = json.dumps(CONFORMING).encode()
    payloads = [p for trap in TRAPS.values() for p in (conforming, trap)] + [None] * 5 + [conforming] * 9
    assert_paths_agree(Probe, payloads)
    split = fast_plan(Probe).split(payloads)  # type: ignore[union-attr]
    assert sorted(split.clean_index + split.rest) == list(range(len(payloads)))
    assert split.clean_index == sorted(split.clean_index) and split.rest == sorted(split.rest)
    assert split.clean.num_rows == len(split.clean_index)
