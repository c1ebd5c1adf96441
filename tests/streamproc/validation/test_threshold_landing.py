"""The quarantine threshold on the real broker: a flood of bad events stops the run, nothing of the batch lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.pipelines import (
    committed_and_end_offsets,
    encode,
    new_topic,
    order,
    produce,
    run_async,
    run_cli,
    write_pipeline,
)

pytestmark = pytest.mark.kafka


def test_a_batch_over_the_contracts_threshold_stops_the_run_and_commits_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("threshold")
    first = [encode(order(i)) for i in range(20)]
    first[3] = encode(order(3, amount=-1))  # 1 of 20 = 5 %: quarantined, the load goes on
    flood = [encode(order(i, amount="n/a")) if i % 2 else encode(order(i)) for i in range(20, 40)]  # 50 %
    run_async(produce, kafka_bootstrap, topic, first + flood)
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.contract_modes:GuardedOrder",
        batch={"max_rows": 20},
    )

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 3, result.stderr
    assert "10 of 20 events (50.0%) would be quarantined, above the quarantine threshold of 20%" in result.stderr
    assert f"{topic}[0]@20-39" in result.stderr and f"first quarantined event is at {topic}[0]@21" in result.stderr
    assert sorted(files.read("table")["order_id"].to_pylist()) == [i for i in range(20) if i != 3]
    assert files.read("quarantine")["_offset"].to_pylist() == [3]
    committed, _ = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 1)
    assert committed[0] in (None, 20)

    # the pipeline config's threshold applies only where the contract declares none: this contract's 20 % wins
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.contract_modes:GuardedOrder",
        batch={"max_rows": 20}, quarantine_threshold=90,
    )
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 3

    # with a contract without a threshold, the config's 60 % lets the flood through to quarantine
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.order_contracts:Order",
        batch={"max_rows": 20}, quarantine_threshold=60,
    )
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr
    assert len(files.read("quarantine")) == 11
