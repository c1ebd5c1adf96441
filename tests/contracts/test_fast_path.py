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
from contracts.fast import fast_plan
from contracts.modes import Mode

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
ANY = st.one_of(st.none(), st.booleans(), INTS, NUMBERS, STRINGS, st.lists(st.integers(), max_size=2), st.just({"x": 1}))


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
    corruption = draw(st.integers(0, 39))
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
    return text.encode()


def _verdicts(result: Any) -> list[tuple[int, str, tuple[tuple[str, str, str | None], ...], str]]:
    return [
        (r.index, r.disposition, tuple((v.loc, v.type, v.mode) for v in r.violations), json.dumps(r.removed, default=str))
        for r in result.rejected
    ]


def test_the_probe_contract_compiles_to_a_fast_plan() -> None:
    assert fast_plan(Probe) is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=25))
def test_both_paths_give_the_same_verdict_on_every_event(payloads: list[bytes | None]) -> None:
    fast = validate_batch(Probe, payloads, fast=True)
    slow = validate_batch(Probe, payloads, fast=False)
    assert fast.accepted_index == slow.accepted_index
    assert _verdicts(fast) == _verdicts(slow)
    assert fast.accepted.schema == slow.accepted.schema
    assert fast.accepted.to_pylist() == slow.accepted.to_pylist()


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


@pytest.mark.parametrize("contract", [WithValidator, WithComputed, WithMultiple, WithPlainEnum])
def test_what_the_fast_path_cannot_judge_goes_per_row(contract: type[Contract]) -> None:
    assert fast_plan(contract) is None
    result = validate_batch(contract, [b'{"a": 3}'] * 10)
    assert result.accepted.num_rows + len(result.rejected) == 10
