"""Validation in worker processes (streamproc.validation.pool): same verdicts as in-process, errors cross the process
boundary with their evidence, workers are replaced when they die and gone after close. Real spawned processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from contracts import Contract, ContractFrozenError, validate_batch
from streamproc.validation.pool import ValidationPool, ValidationWorkerError, contract_reference
from contracts.threshold import QuarantineThreshold, QuarantineThresholdExceeded
from bench.order_contract import Order


class Sensor(Contract, name="sensors", version=2, mode="freeze"):
    """Frozen on every entity: the first violating event stops the batch."""

    sensor_id: int
    value: float


def _orders_with_bad_rows() -> list[bytes | None]:
    good = {"order_id": 1, "customer_id": "c1", "email": "a@example.com", "amount": 12.5, "currency": "EUR",
            "country": "NL", "placed_at": "2026-01-01T00:00:00Z", "items": 2}
    events: list[bytes | None] = [json.dumps({**good, "order_id": i + 1}).encode() for i in range(40)]
    events[3] = json.dumps({**good, "amount": "lots"}).encode()  # wrong type
    events[7] = json.dumps({k: v for k, v in good.items() if k != "email"}).encode()  # missing field
    events[11] = json.dumps({**good, "coupon": "X"}).encode()  # undeclared key
    events[13] = b"{not json"  # malformed
    events[17] = None  # tombstone
    events[19] = json.dumps({**good, "amount": -1}).encode()  # constraint
    return events


@pytest.fixture(scope="module")
def pool() -> Iterator[ValidationPool]:
    with ValidationPool([Order]) as started:
        yield started


def test_the_worker_gives_the_same_verdicts_as_in_process(pool: ValidationPool) -> None:
    payloads = _orders_with_bad_rows()
    inline = validate_batch(Order, payloads)
    offloaded = pool.validate(Order, payloads)
    assert offloaded.accepted.equals(inline.accepted)
    assert offloaded.accepted.schema.equals(inline.accepted.schema, check_metadata=True)
    assert offloaded.accepted_index == inline.accepted_index
    assert offloaded.rejected == inline.rejected
    assert [r.index for r in offloaded.rejected] == [3, 7, 11, 13, 17, 19]
    assert offloaded.new_columns == inline.new_columns
    # by reference too, and the per-row path alike
    assert pool.validate("bench.order_contract:Order", payloads, fast=False).rejected == inline.rejected


def test_a_frozen_contracts_error_crosses_with_its_rejection(pool: ValidationPool) -> None:
    payloads = [b'{"sensor_id": 1, "value": 0.5}', b'{"sensor_id": 2, "value": "hot"}']
    with pytest.raises(ContractFrozenError) as inline:
        validate_batch(Sensor, payloads)
    with pytest.raises(ContractFrozenError) as offloaded:
        pool.validate(Sensor, payloads)  # not preloaded: the worker loads it on first use
    assert offloaded.value.rejection == inline.value.rejection
    assert offloaded.value.rejection.index == 1
    assert offloaded.value.violation.loc == "value"
    assert str(offloaded.value) == str(inline.value)


def test_the_quarantine_threshold_crosses_with_its_counts(pool: ValidationPool) -> None:
    with pytest.raises(QuarantineThresholdExceeded) as caught:
        pool.validate(Order, _orders_with_bad_rows(), threshold=QuarantineThreshold(5))
    assert (caught.value.quarantined, caught.value.total, caught.value.first_index) == (6, 40, 3)


def test_await_without_blocking_the_event_loop(pool: ValidationPool) -> None:
    async def main() -> int:
        result = await pool.validate_async(Order, _orders_with_bad_rows())
        return len(result.accepted)

    assert anyio.run(main) == 34


def test_an_unimportable_contract_is_refused_before_any_worker_starts() -> None:
    class Local(Contract, name="local"):
        x: int

    with pytest.raises(Exception, match="defined in a function"):
        ValidationPool([Local])
    with pytest.raises(Exception, match="cannot import module"):
        ValidationPool(["no_such_module:Nothing"])


def test_a_dead_worker_fails_its_batch_and_is_replaced_and_close_leaves_no_process() -> None:
    pool = ValidationPool([Order])
    pool.start()
    (first,) = pool.pids
    os.kill(first, signal.SIGKILL)
    with pytest.raises(ValidationWorkerError) as caught:
        pool.validate(Order, _orders_with_bad_rows())
    assert -signal.SIGKILL in caught.value.exitcodes
    assert len(pool.validate(Order, _orders_with_bad_rows()).accepted) == 34  # a fresh worker
    assert pool.restarts == 1
    (second,) = pool.pids
    assert second != first
    pool.close()
    assert pool.pids == []
    assert not Path(f"/proc/{second}").exists()  # exited and reaped
    assert second not in {child.pid for child in multiprocessing.active_children()}
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(Order, [b"{}"])


def test_reference_of_a_class() -> None:
    assert contract_reference(Order) == "bench.order_contract:Order"
    assert contract_reference("pkg.mod:C") == "pkg.mod:C"
