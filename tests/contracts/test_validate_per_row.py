"""Validating batches on the per-row pydantic path: verdicts, every violation, and the modes."""

from __future__ import annotations

import json

import pytest

from contracts import Contract, ContractFrozenError, validate_batch


class Reading(Contract, name="readings", mode="discard_row"):
    sensor: str
    value: float
    unit: str | None = None


class LenientReading(Contract, name="readings", mode="discard_value"):
    sensor: str
    value: float
    unit: str | None = None


class FrozenReading(Contract, name="readings", mode="freeze"):
    sensor: str
    value: float


def _b(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_valid_events_become_arrow_rows_in_batch_order() -> None:
    result = validate_batch(Reading, [_b({"sensor": "a", "value": 1}), _b({"sensor": "b", "value": 2.5, "unit": "C"})])
    assert result.accepted.to_pylist() == [
        {"sensor": "a", "value": 1.0, "unit": None},
        {"sensor": "b", "value": 2.5, "unit": "C"},
    ]
    assert result.accepted_index == [0, 1] and result.rejected == []


def test_every_violation_of_an_event_is_reported_with_its_entity() -> None:
    result = validate_batch(Reading, [_b({"value": "hot", "extra": 1})])
    (rejection,) = result.rejected
    found = {(v.loc, v.type, v.entity, v.mode) for v in rejection.violations}
    assert found == {
        ("sensor", "missing", "data_type", "discard_row"),
        ("value", "float_parsing", "data_type", "discard_row"),
        ("extra", "extra_forbidden", "columns", "discard_row"),
    }
    assert rejection.disposition == "row_discarded" and result.accepted.num_rows == 0


@pytest.mark.parametrize(
    ("payload", "kind"),
    [(b"{not json", "json_invalid"), (b"\xc3\x28", "utf8_invalid"), (b"[1]", "not_an_object"), (None, "json_invalid")],
)
def test_malformed_payloads_are_rejected_whatever_the_mode(payload: bytes | None, kind: str) -> None:
    for contract in (Reading, LenientReading, FrozenReading):
        (rejection,) = validate_batch(contract, [payload]).rejected
        assert rejection.disposition == "malformed"
        assert rejection.violations[0].type == kind and rejection.violations[0].entity == "payload"


def test_discard_value_lands_the_row_without_the_offending_values_and_reports_them() -> None:
    result = validate_batch(LenientReading, [_b({"sensor": "a", "value": 3, "unit": 7, "color": "red"})])
    assert result.accepted.to_pylist() == [{"sensor": "a", "value": 3.0, "unit": None}]
    (rejection,) = result.rejected
    assert rejection.disposition == "value_discarded"
    assert rejection.removed == {"unit": 7, "color": "red"}


def test_discard_value_discards_the_row_when_a_required_value_is_bad() -> None:
    result = validate_batch(LenientReading, [_b({"sensor": "a", "value": "n/a"})])
    assert result.accepted.num_rows == 0
    assert result.rejected[0].disposition == "row_discarded"


def test_freeze_raises_with_the_evidence() -> None:
    batch = [_b({"sensor": "a", "value": 1}), _b({"sensor": "b", "value": "x"})]
    with pytest.raises(ContractFrozenError, match=r"frozen on 'data_type': field 'value'") as caught:
        validate_batch(FrozenReading, batch)
    assert caught.value.rejection.index == 1
    assert caught.value.violation.type == "float_parsing"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"value": 1},
            "contract 'readings' v1 is frozen on 'data_type': field 'sensor': Field required (type=missing), event #0",
        ),
        (
            {"sensor": "a", "value": 1, "colour": "red"},
            "frozen on 'columns': field 'colour' is not declared by the contract (type=extra_forbidden, sent a string)",
        ),
        (
            {"sensor": None, "value": [1], "unit": 3, "a": 1, "b": 2},
            "field 'sensor': Input should be a valid string (type=string_type, sent null; also 'value': float_type, "
            "'unit': extra_forbidden, 'a': extra_forbidden and 1 more), event #0",
        ),
    ],
    ids=["missing", "undeclared", "several"],
)
def test_a_freeze_names_the_field_what_was_sent_and_the_other_violations(event: dict, message: str) -> None:
    with pytest.raises(ContractFrozenError) as caught:
        validate_batch(FrozenReading, [_b(event)])
    assert message in str(caught.value)
