"""``streamproc run`` end to end: the real broker, the real CLI, real Delta tables on disk."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest
from deltalake.exceptions import TableNotFoundError

from tests.fixtures.pipelines import (
    PipelineFiles,
    committed_and_end_offsets,
    encode,
    new_topic,
    order,
    produce,
    run_async,
    run_cli,
    start_cli,
    stop,
    write_pipeline,
)
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.kafka

LINEAGE = ("_load_id", "_ingested_at", "_source", "_partition", "_offset", "_contract_version")


def _mixed_events(valid: int) -> tuple[list[bytes], int]:
    """``valid`` good orders plus malformed JSON, non-UTF-8, wrong types, missing fields and an extra field."""
    bad = [
        b'{"order_id": 1, "email": ',  # truncated JSON
        b"not json at all",
        b"\xff\xfe\x00garbage",  # not UTF-8
        b"[1, 2, 3]",  # JSON, but not an object
        encode(order(9001, amount="lots")),  # wrong type
        encode(order(9002, placed_at="yesterday")),  # wrong type
        encode(order(9003, currency="BTC")),  # not in the Literal
        encode({k: v for k, v in order(9004).items() if k != "email"}),  # missing field
        encode({k: v for k, v in order(9005).items() if k != "order_id"}),  # missing field
        encode(order(9006, coupon="XMAS")),  # undeclared field (columns: discard_row)
    ]
    good = [encode(order(i)) for i in range(valid)]
    events = []
    for i, payload in enumerate(good):
        events.append(payload)
        if i % 50 == 0 and bad:
            events.append(bad.pop())
    events.extend(bad)
    return events, 10


def test_lands_valid_events_and_quarantines_every_invalid_one(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("orders")
    events, invalid = _mixed_events(600)
    run_async(produce, kafka_bootstrap, topic, events, partitions=3)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 200})

    result = run_cli("run", str(files.config), "--until-caught-up", "--json")

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stopped_by"] == "caught_up"
    table, quarantine, loads = files.read("table"), files.read("quarantine"), files.read("loads")
    assert table.num_rows == 600 == summary["rows_landed"]
    assert quarantine.num_rows == invalid == summary["rows_quarantined"]
    assert sorted(table["order_id"].to_pylist()) == list(range(600))
    for column in LINEAGE:
        assert table[column].null_count == 0, column
    assert set(table["_source"].to_pylist()) == {f"kafka://{kafka_bootstrap}/{topic}"}
    assert set(table["_contract_version"].to_pylist()) == {1}
    assert set(table["_load_id"].to_pylist()) <= set(loads["load_id"].to_pylist())
    # every event is accounted for exactly once: landed or quarantined, by its coordinates
    coordinates = list(zip(table["_partition"].to_pylist(), table["_offset"].to_pylist())) + list(
        zip(quarantine["_partition"].to_pylist(), quarantine["_offset"].to_pylist())
    )
    assert len(coordinates) == len(set(coordinates)) == len(events)
    # the quarantine keeps the raw payload and every reason
    kinds = Counter(v["type"] for violations in quarantine["violations"].to_pylist() for v in violations)
    assert kinds["json_invalid"] == 2 and kinds["utf8_invalid"] == 1 and kinds["not_an_object"] == 1
    assert kinds["missing"] == 2 and kinds["extra_forbidden"] == 1
    assert b"\xff\xfe\x00garbage" in quarantine["raw_payload"].to_pylist()
    assert set(quarantine["contract_name"].to_pylist()) == {"orders"}
    assert all(quarantine["contract_hash"].to_pylist())
    wrong_amount = [
        row for row in quarantine.to_pylist() if row["raw_text"] and '"lots"' in row["raw_text"]
    ][0]
    assert wrong_amount["violations"][0]["loc"] == "amount"
    assert wrong_amount["disposition"] == "row_discarded"
    # _loads: one row per micro-batch, summing to the totals, offsets covering every event
    assert pc.sum(loads["rows_landed"]).as_py() == 600
    assert pc.sum(loads["rows_quarantined"]).as_py() == invalid
    assert loads.num_rows == summary["loads"] >= 3
    covered = sum(r["last_offset"] - r["first_offset"] + 1 for rs in loads["offsets"].to_pylist() for r in rs)
    assert covered == len(events)
    assert all(v is not None for v in loads["delta_version"].to_pylist())
    # Kafka's committed offsets are the end offsets
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 3)
    assert committed == ends


def test_freeze_stops_with_the_field_and_offset_and_commits_nothing_past_it(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("frozen")
    events = [encode(order(i)) for i in range(20)]
    events.insert(12, encode(order(12, amount=-5)))
    coordinates = run_async(produce, kafka_bootstrap, topic, events, partitions=1)
    bad_offset = coordinates[12][1]
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.order_contracts:FrozenOrder"
    )

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 3, result.stdout + result.stderr
    assert "frozen_orders" in result.stderr
    assert "'amount'" in result.stderr
    assert f"{topic}[0]@{bad_offset}" in result.stderr
    committed, _ = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 1)
    assert committed[0] is None or committed[0] <= bad_offset
    table = files.read("table")
    assert all(offset < bad_offset for offset in table["_offset"].to_pylist())

    # Fixing the contract (here: switching the pipeline to the discard_row contract) continues with no loss.
    fixed = write_pipeline(tmp_path, kafka_bootstrap, topic=topic)
    assert fixed.group == files.group
    result = run_cli("run", str(fixed.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr


def test_sigterm_flushes_the_open_batch_commits_and_a_restart_continues(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("sigterm")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(1000)], partitions=2)
    # Loads of 400 and a linger of ten minutes: two loads close by rows, the last 200 events wait in the open batch,
    # which only the shutdown flush lands.
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 400, "max_linger_seconds": 600})
    log = tmp_path / "run.log"

    process = start_cli("run", str(files.config), log=log)
    try:
        # The 1,000 events were in the topic before the consumer started, so its first fetch of each partition took
        # them all: once two loads closed by rows, the other 200 are in the open batch.
        wait_until(lambda: _close_reasons(files) == ["rows", "rows"], "two loads closed by rows", watch=[process],
                   ignoring=(TableNotFoundError,))
        assert stop(process, signal.SIGTERM) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    loads = sorted(files.read("loads").to_pylist(), key=lambda load: load["committed_at"])
    assert [(load["close_reason"], load["rows_landed"]) for load in loads] == [
        ("rows", 400), ("rows", 400), ("shutdown", 200)
    ]
    table = files.read("table")
    assert sorted(table["order_id"].to_pylist()) == list(range(1000))
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
    assert committed == ends

    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(1000, 1500)], partitions=2)
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr
    order_ids = files.read("table")["order_id"].to_pylist()
    assert sorted(order_ids) == list(range(1500))


def _close_reasons(files: PipelineFiles) -> list[str]:
    """Why each load of ``_loads`` closed, in commit order."""
    loads = sorted(files.read("loads").to_pylist(), key=lambda load: load["committed_at"])
    return [load["close_reason"] for load in loads]


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        ({"max_rows": 50}, "rows"),
        ({"max_bytes": 4_000}, "bytes"),
    ],
)
def test_row_and_byte_limits_close_batches(kafka_bootstrap: str, tmp_path: Path, batch: dict, reason: str) -> None:
    topic = new_topic(reason)
    events = [encode(order(i)) for i in range(500)]
    run_async(produce, kafka_bootstrap, topic, events, partitions=1)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_linger_seconds": 600, **batch})

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 0, result.stderr
    loads = files.read("loads").to_pylist()
    by_limit = [load for load in loads if load["close_reason"] == reason]
    assert len(by_limit) >= 5
    for load in by_limit:
        if reason == "rows":
            assert load["rows_landed"] + load["rows_quarantined"] == 50
        else:
            largest = max(len(e) for e in events)
            assert 4_000 <= load["bytes"] < 4_000 + largest
    assert sum(load["rows_landed"] for load in loads) == 500


def test_linger_closes_a_batch_that_no_other_limit_would(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("linger")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(5)], partitions=1)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_linger_seconds": 1.0})
    log = tmp_path / "run.log"

    process = start_cli("run", str(files.config), log=log)
    try:
        wait_until(lambda: _close_reasons(files), "the first load", watch=[process], ignoring=(TableNotFoundError,))
    finally:
        stop(process)
    loads = files.read("loads").to_pylist()
    assert loads[0]["close_reason"] == "linger"
    assert loads[0]["rows_landed"] == 5
