"""The quarantine threshold: a percent of a batch, with a minimum batch size."""

from __future__ import annotations

import json

import pytest

from contracts import Contract, ContractDeclarationError, validate_batch
from contracts.threshold import QuarantineThreshold, QuarantineThresholdExceeded, check_threshold


class Reading(Contract, name="readings", quarantine_threshold=10):
    value: float


def _batch(good: int, bad: int) -> list[bytes]:
    return [json.dumps({"value": i}).encode() for i in range(good)] + [b'{"value": "x"}'] * bad


def test_the_contract_declares_it() -> None:
    assert Reading.__contract__.quarantine_threshold == QuarantineThreshold(10.0, 1)


@pytest.mark.parametrize(("good", "bad", "fails"), [(90, 10, False), (89, 11, True), (100, 0, False)])
def test_more_than_the_percent_fails(good: int, bad: int, fails: bool) -> None:
    payloads = _batch(good, bad)
    result = validate_batch(Reading, payloads)
    if not fails:
        check_threshold(result, len(payloads), Reading.__contract__.quarantine_threshold)
        return
    with pytest.raises(QuarantineThresholdExceeded, match=r"11 of 100 events \(11.0%\).*threshold of 10%") as caught:
        check_threshold(result, len(payloads), Reading.__contract__.quarantine_threshold)
    assert caught.value.first_index == good


def test_small_batches_are_not_judged_below_min_events() -> None:
    result = validate_batch(Reading, _batch(1, 1))
    check_threshold(result, 2, QuarantineThreshold(10, min_events=3))
    with pytest.raises(QuarantineThresholdExceeded):
        check_threshold(result, 2, QuarantineThreshold(10, min_events=2))


@pytest.mark.parametrize("spec", [101, -1, {"max": 5}, True, "5%"])
def test_invalid_specs_are_declaration_errors(spec: object) -> None:
    with pytest.raises(ContractDeclarationError):
        QuarantineThreshold.parse(spec)  # type: ignore[arg-type]
