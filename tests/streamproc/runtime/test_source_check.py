"""A source that cannot be read stops ``streamproc run`` before any table is created (issue 13, item 7): an
unreachable broker or a missing file leaves the lake as it was, with one clear error and no resource warnings. The real
CLI; a held port that refuses connections stands for a broker that is down."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.fixtures.pipelines import run_cli, start_cli, stop, wait_for_output, write_file_pipeline, write_pipeline
from tests.fixtures.waiting import PortReservation


def test_an_unreachable_broker_fails_before_any_table_is_created_and_closes_its_consumer(
    tmp_path: Path, kafka_client: str
) -> None:
    with PortReservation() as down:  # nothing listens: connection refused
        files = write_pipeline(tmp_path, f"127.0.0.1:{down.port}", topic="orders", client=kafka_client)

        result = run_cli("run", str(files.config))

    assert result.returncode == 1, result.stderr
    assert f"cannot reach the Kafka broker at 127.0.0.1:{down.port}" in result.stderr
    assert not files.lake.exists(), sorted(p.name for p in files.lake.iterdir())
    assert "Unclosed" not in result.stderr, result.stderr


def test_a_missing_file_fails_before_any_table_is_created(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=1, name="missing")
    (tmp_path / "orders.ndjson").unlink()

    result = run_cli("run", str(config))

    assert result.returncode == 1, result.stderr
    assert f"no such file: {tmp_path / 'orders.ndjson'}" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_a_file_of_no_supported_format_fails_before_any_table_is_created(tmp_path: Path) -> None:
    # Refused by its name in the source's check, not at its first read: by then the tables and _contracts existed.
    config = write_file_pipeline(tmp_path, events=1, name="text", source={"type": "file", "path": "orders.txt"})
    (tmp_path / "orders.ndjson").rename(tmp_path / "orders.txt")

    result = run_cli("run", str(config))

    assert result.returncode == 2, result.stderr
    assert f"{tmp_path / 'orders.txt'}: unsupported file type (expected .ndjson, .jsonl" in result.stderr
    assert not (tmp_path / "lake").exists(), sorted(p.name for p in (tmp_path / "lake").iterdir())


def test_until_caught_up_on_a_topic_that_does_not_exist_fails_before_any_table_is_created(
    tmp_path: Path, kafka_bootstrap: str, kafka_client: str
) -> None:
    # Before: the run joined the group and waited for ever ("still joining consumer group ... a member that was
    # killed ..."), as if another member held the partitions; a typo in `topics:` never ended a backfill.
    topic = f"never-produced-{uuid.uuid4().hex[:8]}"
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, client=kafka_client)

    result = run_cli("run", str(files.config), "--until-caught-up", timeout=60)

    assert result.returncode == 1, result.stderr
    assert f"topic '{topic}' does not exist on the Kafka broker at {kafka_bootstrap}" in result.stderr
    assert f"streamproc replay FILE --topic {topic}" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not files.lake.exists(), sorted(p.name for p in files.lake.iterdir())


def test_a_long_run_on_a_topic_that_does_not_exist_says_so_while_it_waits(tmp_path: Path, kafka_bootstrap: str) -> None:
    # Before: every 10 s "still joining consumer group ...: the broker holds a rebalance until every member has
    # rejoined, and a member that was killed stays in the group ...", naming neither the topic nor the real cause.
    # confluent-kafka only: librdkafka does not join the group while no subscribed topic exists; aiokafka joins it
    # with no partitions ("partitions assigned: " with none), which says nothing misleading.
    topic = f"never-produced-{uuid.uuid4().hex[:8]}"
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, client="confluent-kafka")
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        wait_for_output(process, "still joining consumer group")
    finally:
        returncode = stop(process)

    assert returncode == 0, process.output()
    assert f"topic '{topic}' did not exist on {kafka_bootstrap} when the run started" in process.output()
    assert "a member that was killed" not in process.output(), process.output()
