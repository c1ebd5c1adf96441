"""``streamproc positions``: the Delta log's positions beside Kafka's, re-landing a range, renaming the group."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

from tests.fixtures.exactly_once import known_stream, split
from tests.fixtures.pipelines import (
    new_topic,
    produce,
    run_async,
    run_cli,
    start_cli,
    stop,
    wait_for_output,
    write_pipeline,
)
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka


def _positions(config: Path) -> dict[int, dict]:
    result = run_cli("positions", "show", str(config), "--json")
    assert result.returncode == 0, result.stderr
    return {p["partition"]: p for p in json.loads(result.stdout)}


def _coordinates(path: Path) -> Counter:
    table = read_table(str(path), columns=["_partition", "_offset"])
    return Counter(zip(table["_partition"].to_pylist(), table["_offset"].to_pylist()))


def test_show_rewind_and_carry_positions_over_to_a_renamed_group(kafka_bootstrap: str, tmp_path: Path) -> None:
    stream = known_stream(1200, invalid_every=9)
    topic = new_topic("positions")
    coordinates = run_async(produce, kafka_bootstrap, topic, stream.payloads, partitions=2)
    valid, invalid = split(stream, coordinates)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100})
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0

    shown = _positions(files.config)
    assert sorted(shown) == [0, 1]
    for partition, position in shown.items():
        assert position["table"] == position["quarantine"] == position["loads"] == position["end"] - 1
        assert position["resume_at"] == position["committed"] == position["end"] == 600
        assert position["lag"] == 0

    # Re-land partition 0 from offset 250: delete what is there from 250 on, then move the position back.
    for path in (files.table, files.quarantine):
        DeltaTable(str(path)).delete("_partition = 0 AND _offset >= 250")
    moved = run_cli("positions", "set", str(files.config), "--partition", "0", "--next-offset", "250")
    assert moved.returncode == 0, moved.stderr
    assert "resumes at 250 (was: 600)" in moved.stdout
    assert _positions(files.config)[0]["resume_at"] == 250
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0
    landed, quarantined = _coordinates(files.table), _coordinates(files.quarantine)
    assert set(landed) == valid and set(quarantined) == invalid
    assert max(landed.values()) == max(quarantined.values()) == 1

    # A renamed group starts where the old one stopped once its positions are carried over.
    for partition in (0, 1):
        carried = run_cli(
            "positions", "set", str(files.config), "--partition", str(partition), "--next-offset", "600",
            "--group", "renamed-group",
        )
        assert carried.returncode == 0, carried.stderr
    config = yaml.safe_load(files.config.read_text())
    config["source"]["consumer_group"] = "renamed-group"
    files.config.write_text(yaml.safe_dump(config))
    result = run_cli("run", str(files.config), "--until-caught-up", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows_landed"] == 0
    assert sum(_coordinates(files.table).values()) == len(valid)


def test_set_refuses_while_the_pipeline_runs(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("positions-running")
    run_async(produce, kafka_bootstrap, topic, known_stream(50).payloads, partitions=1)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, observability={"port": 0})
    log = tmp_path / "run.log"
    process = start_cli("run", str(files.config), log=log)
    try:
        wait_for_output(process, "load ")
        refused = run_cli("positions", "set", str(files.config), "--partition", "0", "--next-offset", "0")
    finally:
        stop(process)
    assert refused.returncode == 2
    assert "running member" in refused.stderr
    assert _positions(files.config)[0]["resume_at"] == 50
