"""The Faust integration end to end: the example app (examples/faust/orders_app.py) runs as real Faust workers in
subprocesses against the real broker and lands into real Delta tables; assertions read the tables with deltalake and
the OpenLineage events from openlineage-python's file transport.

What they show: valid events land once with their lineage columns and invalid ones are quarantined with their raw
payload, ``_loads`` counts every row once; a killed worker is resumed from the Delta log's positions even when
Kafka's committed offsets say everything was consumed; a joining worker takes its partition from the Delta log; a
stopped worker lands its open batch; each worker is one OpenLineage run as with ``streamproc run``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from deltalake.exceptions import TableNotFoundError

from streamproc.sources.kafka.admin import ensure_topic
from tests.fixtures.lineage import file_transport_env, read_events
from tests.fixtures.openlineage import event_errors
from tests.fixtures.pipelines import REPO, committed_and_end_offsets, new_topic, run_async
from tests.fixtures.waiting import DEADLINE_SECONDS, LoggedProcess, wait_until
from streamproc.sinks.reader import read_table

pytest.importorskip("faust")
pytestmark = [pytest.mark.kafka, pytest.mark.slow]

APP = REPO / "examples" / "faust" / "orders_app.py"
SESSION_TIMEOUT_SECONDS = 6  # the broker's least (group.min.session.timeout.ms): a killed member is gone after it
PARTITIONS = 2


def _order(i: int) -> bytes:
    return json.dumps(
        {
            "order_id": i,
            "email": f"user{i}@example.com",
            "amount": round(10 + i * 0.5, 2),
            "currency": ("EUR", "USD", "GBP")[i % 3],
            "country": None if i % 5 == 0 else "NL",
            "placed_at": f"2026-11-{1 + i % 28:02d}T12:00:00Z",
        }
    ).encode()


INVALID: list[bytes | None] = [
    b'{"order_id": 1, "email": ',  # truncated JSON
    b"\xff\xfe\x00garbage",  # not UTF-8
    b"[1, 2, 3]",  # JSON, but not an object
    json.dumps(
        {"order_id": 9001, "email": "a@b.c", "amount": "lots", "currency": "EUR", "placed_at": "2026-11-01T12:00:00Z"}
    ).encode(),  # wrong type
    json.dumps(
        {"order_id": 9002, "email": "a@b.c", "amount": 1.0, "currency": "BTC", "placed_at": "2026-11-01T12:00:00Z"}
    ).encode(),  # not in the Literal
    json.dumps(
        {"order_id": 9003, "amount": 1.0, "currency": "EUR", "placed_at": "2026-11-01T12:00:00Z"}
    ).encode(),  # missing field
    json.dumps(
        {"order_id": 9004, "email": "a@b.c", "amount": 1.0, "currency": "EUR", "placed_at": "2026-11-01T12:00:00"}
    ).encode(),  # a naive timestamp (AwareDatetime)
    None,  # a tombstone
]


def _mixed(first: int, count: int, invalid: list[bytes | None]) -> list[bytes | None]:
    """Orders ``first`` .. ``first + count - 1`` with the ``invalid`` events spread among them."""
    events: list[bytes | None] = [_order(i) for i in range(first, first + count)]
    step = max(1, count // (len(invalid) + 1))
    for n, bad in enumerate(invalid, start=1):
        events.insert(n * step + n - 1, bad)
    return events


async def _produce(bootstrap: str, topic: str, events: list[bytes | None]) -> dict[tuple[int, int], bytes | None]:
    """Produce round-robin over the partitions (a tombstone needs a key); returns (partition, offset) → payload."""
    await ensure_topic(bootstrap, topic, partitions=PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=f"k{i}".encode(), partition=i % PARTITIONS)
            for i, value in enumerate(events)
        ]
        return {(m.partition, m.offset): value for m, value in zip([await f for f in futures], events, strict=True)}
    finally:
        await producer.stop()


async def _commit_as_group(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit ``offsets`` for the group, as an outsider: the broker accepts it once the group is empty (a killed
    member's session expired)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in offsets])
        with anyio.fail_after(DEADLINE_SECONDS):
            while True:
                try:
                    await consumer.commit({TopicPartition(topic, p): o for p, o in offsets.items()})
                    return
                except KafkaError:
                    await anyio.sleep(0.5)
    finally:
        await consumer.stop()


class Lake:
    """The example pipeline's tables under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, name: str) -> pa.Table | None:
        try:
            return read_table(str(self.root / name))
        except TableNotFoundError:
            return None

    def landed(self) -> Counter[tuple[int, int]]:
        """How often each (partition, offset) is in the table or the quarantine table."""
        seen: Counter[tuple[int, int]] = Counter()
        for name in ("orders", "orders__quarantine"):
            table = self.read(name)
            if table is not None:
                seen.update(zip(table["_partition"].to_pylist(), table["_offset"].to_pylist(), strict=True))
        return seen

    def loads(self) -> list[dict[str, Any]]:
        table = self.read("_loads")
        return [] if table is None else table.to_pylist()


class Worker:
    """``orders_app.py worker`` in a subprocess; its output in ``log``."""

    def __init__(self, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.process = LoggedProcess(
            [sys.executable, str(APP), "worker", "--without-web", "--loglevel=info"], log=log, cwd=cwd, env=env
        )

    def poll(self) -> int | None:
        return self.process.poll()

    def output(self) -> str:
        return self.process.output()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=60)


@pytest.fixture
def setup(kafka_bootstrap: str, tmp_path: Path) -> dict[str, Any]:
    topic = new_topic("faust-orders")
    lake = tmp_path / "lake"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        ORDERS_TOPIC=topic,
        ORDERS_GROUP=f"faust-{topic}",
        ORDERS_LAKE=str(lake),
        ORDERS_BATCH_ROWS="20",
        KAFKA_SESSION_TIMEOUT_SECONDS=str(SESSION_TIMEOUT_SECONDS),
        FAUST_DATADIR=str(tmp_path / "faust"),
    )
    return {"topic": topic, "group": f"faust-{topic}", "lake": Lake(lake), "env": env, "tmp": tmp_path}


def _invalid(produced: dict[tuple[int, int], bytes | None], payloads: list[bytes | None]) -> set[tuple[int, int]]:
    return {coordinates for coordinates, value in produced.items() if value in payloads}


def _assert_exactly_once(
    lake: Lake, produced: dict[tuple[int, int], bytes | None], invalid: set[tuple[int, int]], group: str
) -> None:
    """Every produced event is in the table or the quarantine exactly once (the ``invalid`` ones in the
    quarantine); ``_loads`` covers every offset and counts every row once."""
    landed = lake.landed()
    assert set(landed) == set(produced), f"missing {sorted(set(produced) - set(landed))[:10]}"
    assert max(landed.values()) == 1, f"duplicated: {[c for c, n in landed.items() if n > 1][:10]}"

    table, quarantine = lake.read("orders"), lake.read("orders__quarantine")
    assert table is not None and quarantine is not None
    assert table.num_rows == len(produced) - len(invalid)
    assert set(zip(quarantine["_partition"].to_pylist(), quarantine["_offset"].to_pylist(), strict=True)) == invalid
    assert len(set(table["order_id"].to_pylist())) == table.num_rows

    covered: Counter[tuple[int, int]] = Counter()
    loads = lake.loads()
    for load in loads:
        for span in load["offsets"]:
            covered.update((span["partition"], o) for o in range(span["first_offset"], span["last_offset"] + 1))
    # every offset in some load; an interrupted load is recorded by the next owner beside the load completing it
    # (both name its offsets), so the row counts, not the ranges, are what adds up
    assert set(covered) == set(produced)
    assert sum(load["rows_landed"] for load in loads) == table.num_rows
    assert sum(load["rows_quarantined"] for load in loads) == len(invalid)
    assert {load["consumer_group"] for load in loads} == {group}
    assert {load["pipeline"] for load in loads} == {"orders-faust"}
    assert set(table["_load_id"].to_pylist()) <= {load["load_id"] for load in loads}


def test_lands_exactly_once_across_a_killed_worker_resumed_from_the_delta_log(
    kafka_bootstrap: str, setup: dict[str, Any]
) -> None:
    topic, group, lake, env, tmp = setup["topic"], setup["group"], setup["lake"], setup["env"], setup["tmp"]
    produced = run_async(_produce, kafka_bootstrap, topic, _mixed(0, 200, INVALID))

    # 208 events, loads of 20: the last 8 wait out a 10-minute linger, so however fast the first worker lands, the
    # kill leaves events unlanded.
    first = Worker({**env, "ORDERS_LINGER_SECONDS": "600"}, tmp / "worker-1.log", tmp)
    try:
        wait_until(lambda: lake.loads(), "the first load", watch=[first])
    finally:
        first.stop(signal.SIGKILL)  # mid-stream: 10 loads of 20 events were due, and 8 wait in the open batch
    assert len(lake.landed()) < len(produced), "the kill must leave events unlanded for this test to mean anything"

    # Kafka now says the dead worker consumed everything; only the Delta log knows better.
    _, ends = run_async(committed_and_end_offsets, kafka_bootstrap, group, topic, PARTITIONS)
    run_async(_commit_as_group, kafka_bootstrap, group, topic, ends)
    produced |= run_async(_produce, kafka_bootstrap, topic, _mixed(1000, 60, [b"not json at all"]))

    second = Worker(env, tmp / "worker-2.log", tmp)
    try:
        wait_until(lambda: len(lake.landed()) == len(produced), "every event landed or quarantined", watch=[second])
    finally:
        assert second.stop() == 0, second.output()[-4000:]
    assert "from the Delta log: " + topic in second.output()

    _assert_exactly_once(lake, produced, _invalid(produced, [*INVALID, b"not json at all"]), group)
    table, quarantine = lake.read("orders"), lake.read("orders__quarantine")
    assert table is not None and quarantine is not None
    assert set(table["_source"].to_pylist()) == {f"kafka://{kafka_bootstrap}/{topic}"}
    assert set(table["_contract_version"].to_pylist()) == {1}
    for column in ("_load_id", "_ingested_at", "_partition", "_offset"):
        assert table[column].null_count == 0, column
    # the quarantine keeps each rejected event exactly as it arrived, with every violation
    by_coordinates = {(r["_partition"], r["_offset"]): r for r in quarantine.to_pylist()}
    for coordinates, row in by_coordinates.items():
        assert row["raw_payload"] == produced[coordinates]
        assert row["violations"], row
    assert Counter(r["disposition"] for r in by_coordinates.values())["malformed"] >= 4
    # after a graceful stop Kafka's committed offsets (for lag tools) are the end: every landed event was acknowledged
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, group, topic, PARTITIONS)
    assert committed == ends


def _assert_lineage(
    events: list[dict[str, Any]], loads: list[dict[str, Any]], lake: Lake, bootstrap: str, topic: str
) -> None:
    """One OpenLineage run per worker, as from ``streamproc run``: START, a RUNNING event per load of the run (in
    commit order), COMPLETE at the graceful stop; every event valid against the spec."""
    for event in events:
        assert event_errors(event) == [], (event["eventType"], event_errors(event))
    run_id = events[0]["run"]["runId"]
    ours = sorted((load for load in loads if load["run_id"] == run_id), key=lambda load: load["committed_at"])
    assert [e["eventType"] for e in events] == ["START", *["RUNNING"] * len(ours), "COMPLETE"]
    assert [e["run"]["facets"]["streamproc_load"]["loadId"] for e in events[1:-1]] == [load["load_id"] for load in ours]
    start = events[0]
    assert (start["job"]["namespace"], start["job"]["name"]) == ("streamproc", "orders-faust")
    assert [(d["namespace"], d["name"]) for d in start["inputs"]] == [(f"kafka://{bootstrap}", topic)]
    assert [d["name"] for d in start["outputs"]] == [str(lake.root / "orders"), str(lake.root / "orders__quarantine")]


def test_a_joining_worker_takes_its_partition_from_the_delta_log(kafka_bootstrap: str, setup: dict[str, Any]) -> None:
    topic, group, lake, env, tmp = setup["topic"], setup["group"], setup["lake"], setup["env"], setup["tmp"]
    env = {**env, "ORDERS_LINGER_SECONDS": "1", "STREAMPROC_LINEAGE": "true"}
    run_async(ensure_topic, kafka_bootstrap, topic, partitions=PARTITIONS)

    first = Worker({**env, **file_transport_env(tmp / "events-1.jsonl")}, tmp / "worker-1.log", tmp)
    second: Worker | None = None
    try:
        wait_until(lambda: "Worker ready" in first.output(), "the first worker to own the partitions", watch=[first])
        produced = run_async(_produce, kafka_bootstrap, topic, _mixed(0, 40, INVALID[:2]))
        wait_until(lambda: len(lake.landed()) == len(produced), "the first worker's loads", watch=[first])
        # joining the group takes a partition from the first worker (its buffer of it is dropped unacknowledged)
        second = Worker({**env, **file_transport_env(tmp / "events-2.jsonl")}, tmp / "worker-2.log", tmp)
        wait_until(lambda: "(from the Delta log: " + topic in second.output(), "the second worker's share",
                   watch=[first, second])
        produced |= run_async(_produce, kafka_bootstrap, topic, _mixed(100, 40, INVALID[2:4]))
        wait_until(lambda: len(lake.landed()) == len(produced), "every event landed", watch=[first, second])
    finally:
        codes = [w.stop() for w in (second, first) if w is not None]
    assert codes == [0, 0], first.output()[-3000:]
    _assert_exactly_once(lake, produced, _invalid(produced, INVALID[:4]), group)
    loads = lake.loads()
    runs = [read_events(tmp / "events-1.jsonl"), read_events(tmp / "events-2.jsonl")]
    assert {load["run_id"] for load in loads} == {events[0]["run"]["runId"] for events in runs}, "both workers landed"
    for events in runs:
        _assert_lineage(events, loads, lake, kafka_bootstrap, topic)


def test_stopping_the_worker_lands_its_open_batch(kafka_bootstrap: str, setup: dict[str, Any]) -> None:
    topic, group, lake, env, tmp = setup["topic"], setup["group"], setup["lake"], setup["env"], setup["tmp"]
    env = {**env, "ORDERS_LINGER_SECONDS": "600", "STREAMPROC_LINEAGE": "true", **file_transport_env(tmp / "ol.jsonl")}
    produced = run_async(_produce, kafka_bootstrap, topic, _mixed(0, 45, INVALID[:2]))  # 2 full loads of 20, and 7

    worker = Worker(env, tmp / "worker.log", tmp)
    try:
        wait_until(lambda: len(lake.loads()) == 2, "the two full loads", watch=[worker])
    finally:
        code = worker.stop()  # SIGTERM: the last 7 events wait in the open batch (600 s of linger left)
    assert code == 0, worker.output()[-3000:]
    _assert_exactly_once(lake, produced, _invalid(produced, INVALID[:2]), group)
    loads = sorted(lake.loads(), key=lambda load: load["committed_at"])
    assert [(load["close_reason"], load["rows_landed"] + load["rows_quarantined"]) for load in loads] == [
        ("rows", 20),
        ("rows", 20),
        ("shutdown", 7),
    ]
    _assert_lineage(read_events(tmp / "ol.jsonl"), loads, lake, kafka_bootstrap, topic)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, group, topic, PARTITIONS)
    assert committed == ends, "every landed event acknowledged, and Faust committed their offsets at its stop"
