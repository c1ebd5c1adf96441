"""``streamproc positions``: the Delta log's positions beside Kafka's, re-landing a range, renaming the group."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
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
    write_file_pipeline,
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


def test_set_refuses_a_topic_or_partition_the_pipeline_does_not_read(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("positions-typo")
    run_async(produce, kafka_bootstrap, topic, known_stream(20).payloads, partitions=2)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, observability={"port": 0})
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0
    versions = {path: DeltaTable(str(path)).version() for path in (files.table, files.quarantine)}

    no_partition = run_cli("positions", "set", str(files.config), "--partition", "7", "--next-offset", "0")
    no_topic = run_cli(
        "positions", "set", str(files.config), "--topic", "typo", "--partition", "0", "--next-offset", "0"
    )

    assert no_partition.returncode == 2, no_partition.stdout
    assert f"topic '{topic}' has no partition 7 (its partitions: 0, 1)" in no_partition.stderr
    assert no_topic.returncode == 2, no_topic.stdout
    assert f"the pipeline reads no topic 'typo' (it reads {topic})" in no_topic.stderr
    assert {path: DeltaTable(str(path)).version() for path in versions} == versions  # no commit to any table


async def _delete_records(bootstrap: str, topic: str, *, partition: int, before: int) -> None:
    """Move the partition's log start to ``before``, as retention would (Kafka's DeleteRecords)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, partition): RecordsToDelete(before_offset=before)})
    finally:
        await admin.close()


def test_set_refuses_an_offset_past_the_end_or_below_the_log_start(kafka_bootstrap: str, tmp_path: Path) -> None:
    # Past the end, the position would skip the events up to it as they arrive, with nothing to say so; below the
    # log start, the consumer would meet an out-of-range offset and start where auto_offset_reset says. Neither is
    # a position of the partition: refused, even with --force (which is about running members).
    topic = new_topic("positions-range")
    run_async(produce, kafka_bootstrap, topic, known_stream(24).payloads, partitions=2)  # 12 per partition
    run_async(_delete_records, kafka_bootstrap, topic, partition=0, before=5)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic)
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0
    versions = {path: DeltaTable(str(path)).version() for path in (files.table, files.quarantine, files.loads)}

    past_end = run_cli("positions", "set", str(files.config), "--partition", "1", "--next-offset", "999")
    forced = run_cli("positions", "set", str(files.config), "--partition", "1", "--next-offset", "999", "--force")
    below_start = run_cli("positions", "set", str(files.config), "--partition", "0", "--next-offset", "2")

    assert past_end.returncode == 2, past_end.stdout
    assert (f"{topic}[1] ends at offset 12: resuming at 999 would skip offsets 12 to 998 (987 events not written "
            "yet)") in past_end.stderr
    assert "To start from the end: --next-offset 12" in past_end.stderr
    assert (forced.returncode, forced.stderr) == (2, past_end.stderr)
    assert below_start.returncode == 2, below_start.stdout
    assert f"{topic}[0] starts at offset 5" in below_start.stderr
    assert "--next-offset 5" in below_start.stderr
    assert {path: DeltaTable(str(path)).version() for path in versions} == versions  # no commit to any table
    shown = [(p["start"], p["resume_at"], p["end"], p["lag"]) for p in _positions(files.config).values()]
    assert shown == [(5, 12, 12, 0), (0, 12, 12, 0)]

    # The bounds themselves are positions: the end skips nothing to come, the log start re-lands all there is.
    to_end = run_cli("positions", "set", str(files.config), "--partition", "1", "--next-offset", "12")
    to_start = run_cli("positions", "set", str(files.config), "--partition", "0", "--next-offset", "5")
    assert to_end.returncode == 0, to_end.stderr
    assert to_start.returncode == 0, to_start.stderr
    assert _positions(files.config)[0]["resume_at"] == 5


def test_set_refuses_an_offset_past_a_files_end(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=4, name="file-positions-range")
    assert run_cli("run", str(config)).returncode == 0

    refused = run_cli("positions", "set", str(config), "--partition", "0", "--next-offset", "99")

    assert refused.returncode == 2, refused.stdout
    assert "orders.ndjson[0] ends at offset 4: resuming at 99 would skip offsets 4 to 98 (95 events" in refused.stderr
    assert "To start from the end: --next-offset 4" in refused.stderr
    [shown] = json.loads(run_cli("positions", "show", str(config), "--json").stdout)
    assert (shown["resume_at"], shown["end"], shown["lag"]) == (4, 4, 0)


SHOP = "tests.fixtures.shop_events"


def _shop_event(i: int) -> bytes:
    kind = ("order_placed", "order_refunded", "page_viewed")[i % 3]
    event: dict = {"type": kind, "id": i}
    if kind == "order_placed":
        event["amount"] = i * 1.5
    elif kind == "order_refunded":
        event["reason"] = "damaged"
    return json.dumps(event).encode()


def test_a_routed_pipeline_moves_and_shows_every_routes_tables(kafka_bootstrap: str, tmp_path: Path) -> None:
    # A routed pipeline resumes from the lowest position over all its routes' tables: moving only the default
    # route's tables would leave the routed tables re-landing what was skipped.
    topic = new_topic("positions-routed")
    run_async(produce, kafka_bootstrap, topic, [_shop_event(i) for i in range(60)], partitions=1)
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract=f"{SHOP}:ShopEvent", batch={"max_rows": 25},
        routing={"field": "type", "routes": {
            "order_placed": f"{SHOP}:OrderPlaced",
            "order_refunded": {"contract": f"{SHOP}:OrderRefunded", "table_uri": "lake/refunds"},
        }},
    )
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0
    routed_tables = ("orders", "orders__quarantine", "order_placed", "order_placed__quarantine", "refunds",
                     "refunds__quarantine", "_loads")
    shown = _positions(files.config)[0]
    assert shown["tables"] == {name: 59 for name in routed_tables}
    assert shown["resume_at"] == 60

    # Skip ahead: offsets 60..89 are produced and never landed in any table.
    run_async(produce, kafka_bootstrap, topic, [_shop_event(i) for i in range(60, 120)], partitions=1)
    moved = run_cli("positions", "set", str(files.config), "--partition", "0", "--next-offset", "90")
    assert moved.returncode == 0, moved.stderr
    shown = _positions(files.config)[0]
    assert shown["tables"] == {name: 89 for name in routed_tables}
    assert shown["resume_at"] == 90
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0

    expected = {
        "order_placed": [i for i in range(120) if i % 3 == 0 and not 60 <= i < 90],
        "refunds": [i for i in range(120) if i % 3 == 1 and not 60 <= i < 90],
        "orders": [i for i in range(120) if i % 3 == 2 and not 60 <= i < 90],
    }
    for name, offsets in expected.items():
        landed = _coordinates(files.lake / name)
        assert sorted(offset for _, offset in landed) == offsets, name
        assert max(landed.values()) == 1, name
    assert _positions(files.config)[0]["tables"] == {name: 119 for name in routed_tables}


def test_a_file_sources_positions_are_shown_and_moved(tmp_path: Path) -> None:
    """A file source's position is its partition's ``txn`` version too (topic = the file's name, partition 0, offset
    = event number): ``show`` lists it with the file's event count as the end, ``set`` moves it (a re-land of the
    file from an event on)."""
    config = write_file_pipeline(tmp_path, events=30, name="file-positions", batch={"max_rows": 10})
    assert run_cli("positions", "show", str(config), "--json").returncode == 0  # before any table: nothing landed
    assert run_cli("run", str(config)).returncode == 0

    [shown] = json.loads(run_cli("positions", "show", str(config), "--json").stdout)
    assert (shown["topic"], shown["partition"]) == ("orders.ndjson", 0)
    assert shown["table"] == shown["quarantine"] == shown["loads"] == 29
    assert (shown["resume_at"], shown["committed"], shown["end"], shown["lag"]) == (30, None, 30, 0)
    table = run_cli("positions", "show", str(config))
    assert table.returncode == 0, table.stderr
    assert "orders.ndjson" in table.stdout and "resumes at" in table.stdout

    # Re-land the file from event 20: delete those rows, move the position back, run again.
    DeltaTable(str(tmp_path / "lake" / "orders")).delete("_offset >= 20")
    wrong = run_cli("positions", "set", str(config), "--partition", "1", "--next-offset", "20")
    assert wrong.returncode == 2 and "partition 0" in wrong.stderr, wrong.stderr
    moved = run_cli("positions", "set", str(config), "--partition", "0", "--next-offset", "20")
    assert moved.returncode == 0, moved.stderr
    assert "orders.ndjson[0] resumes at 20 (was: 30)" in moved.stdout
    assert run_cli("run", str(config)).returncode == 0
    assert sorted(read_table(str(tmp_path / "lake" / "orders"))["_offset"].to_pylist()) == list(range(30))
