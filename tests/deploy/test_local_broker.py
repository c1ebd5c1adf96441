"""Behaviour of the local Kafka broker (deploy/kafka/broker.py) with the aiokafka client the runtime uses.

These double as the compatibility check behind the Kafka version choice: topic admin, acks=all produce, consumer
groups with manual commits read back, end offsets, rebalancing, transactions, and restarts that keep state.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.fixtures.kafka import broker_module
from tests.fixtures.waiting import DEADLINE_SECONDS

if TYPE_CHECKING:
    from deploy.kafka.broker import LocalBroker

pytestmark = pytest.mark.kafka


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for index, value in enumerate(values):
            await producer.send_and_wait(topic, value, key=str(index).encode())
    finally:
        await producer.stop()


def group_consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                            auto_offset_reset="earliest", heartbeat_interval_ms=300)  # notice rebalances quickly


async def consume_and_commit(bootstrap: str, topic: str, group: str, expected: int) -> list[bytes]:
    """Read ``expected`` records in ``group``, commit, and check the committed offsets equal the end offsets."""
    consumer = group_consumer(bootstrap, topic, group)
    await consumer.start()
    try:
        values: list[bytes] = []
        with anyio.fail_after(DEADLINE_SECONDS):
            while len(values) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    values.extend(record.value for record in records)
        await consumer.commit()
        partitions = sorted(consumer.assignment())
        committed = {tp: await consumer.committed(tp) for tp in partitions}
        assert committed == await consumer.end_offsets(partitions)
        return values
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, topic: str, group: str, partitions: int) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await consumer.stop()


@pytest.mark.anyio
async def test_round_trip_in_a_consumer_group_commits_offsets_that_read_back(kafka_bootstrap: str) -> None:
    topic, group = unique("roundtrip"), unique("group")
    await create_topic(kafka_bootstrap, topic, partitions=3)
    sent = [f"event-{i}".encode() for i in range(30)]
    await produce(kafka_bootstrap, topic, sent)

    received = await consume_and_commit(kafka_bootstrap, topic, group, expected=len(sent))

    assert sorted(received) == sorted(sent)
    committed = await committed_offsets(kafka_bootstrap, topic, group, partitions=3)
    assert sum(offset or 0 for offset in committed.values()) == len(sent)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        listed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert {tp.partition: meta.offset for tp, meta in listed.items()} == committed


@pytest.mark.anyio
async def test_two_consumers_in_a_group_split_the_partitions_then_one_takes_all(kafka_bootstrap: str) -> None:
    topic, group = unique("rebalance"), unique("group")
    await create_topic(kafka_bootstrap, topic, partitions=4)
    first, second = group_consumer(kafka_bootstrap, topic, group), group_consumer(kafka_bootstrap, topic, group)
    await first.start()
    try:
        await second.start()
        with anyio.fail_after(DEADLINE_SECONDS):
            # Until both have finished the rebalance: the first member holds all four until it rejoins.
            while not (first.assignment() and second.assignment()
                       and len(first.assignment()) + len(second.assignment()) == 4):
                await first.getmany(timeout_ms=100)
                await second.getmany(timeout_ms=100)
        assert not first.assignment() & second.assignment()
        assert len(first.assignment() | second.assignment()) == 4
        await second.stop()
        with anyio.fail_after(DEADLINE_SECONDS):
            while len(first.assignment()) != 4:
                await first.getmany(timeout_ms=100)
    finally:
        await second.stop()
        await first.stop()


@pytest.mark.anyio
async def test_transactions_are_visible_to_read_committed_consumers_only_when_committed(kafka_bootstrap: str) -> None:
    topic = unique("txn")
    await create_topic(kafka_bootstrap, topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique("tx"))
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, isolation_level="read_committed",
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        end = (await consumer.end_offsets([tp]))[tp]  # last stable offset: after both transactions' markers
        values: list[bytes] = []
        with anyio.fail_after(DEADLINE_SECONDS):
            while await consumer.position(tp) < end:
                values.extend(r.value for r in (await consumer.getmany(timeout_ms=200)).get(tp, []))
    finally:
        await consumer.stop()
    assert values == [b"committed"]


@pytest.mark.anyio
async def test_restart_keeps_topics_records_and_committed_offsets(kafka_broker: LocalBroker) -> None:
    bootstrap, topic, group = kafka_broker.bootstrap_servers, unique("restart"), unique("group")
    await create_topic(bootstrap, topic, partitions=2)
    await produce(bootstrap, topic, [b"before-1", b"before-2"])
    await consume_and_commit(bootstrap, topic, group, expected=2)
    before = await committed_offsets(bootstrap, topic, group, partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        try:
            await anyio.to_thread.run_sync(kafka_broker.restart)
        finally:
            if not kafka_broker.is_running():  # the broker is shared by the session
                await anyio.to_thread.run_sync(kafka_broker.start)
        assert kafka_broker.bootstrap_servers == bootstrap
        await producer.send_and_wait(topic, b"after", partition=0)  # a client open across the restart reconnects
    finally:
        await producer.stop()

    assert await committed_offsets(bootstrap, topic, group, partitions=2) == before
    assert await consume_and_commit(bootstrap, topic, group, expected=1) == [b"after"]
    replay = await consume_and_commit(bootstrap, topic, unique("replay"), expected=3)
    assert sorted(replay) == [b"after", b"before-1", b"before-2"]


@pytest.mark.anyio
async def test_acknowledged_records_survive_a_killed_broker(kafka_broker: LocalBroker) -> None:
    bootstrap, topic, group = kafka_broker.bootstrap_servers, unique("kill"), unique("group")
    await produce(bootstrap, topic, [b"acked"])  # auto-created topic
    await consume_and_commit(bootstrap, topic, group, expected=1)
    try:
        await anyio.to_thread.run_sync(kafka_broker.kill)
        assert not kafka_broker.is_running()
    finally:
        await anyio.to_thread.run_sync(kafka_broker.start)
    assert await committed_offsets(bootstrap, topic, group, partitions=1) == {0: 1}
    assert await consume_and_commit(bootstrap, topic, unique("replay"), expected=1) == [b"acked"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, broker_module.__file__, *args], capture_output=True, text=True, timeout=120,
                          check=False)


def process_gone(pid: int) -> bool:
    """Exited: no such process, or a zombie (the CLI that started it is gone; reaping is up to init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_cli_start_and_stop_work_from_separate_processes(kafka_broker: LocalBroker, tmp_path: Path) -> None:
    data_dir = tmp_path / "cli-broker"
    started = run_cli("start", "--data-dir", str(data_dir))
    try:
        assert started.returncode == 0, started.stderr
        bootstrap = started.stdout.strip()
        assert bootstrap.startswith("127.0.0.1:")
        pid = int((data_dir / "broker.pid").read_text())
        assert run_cli("status", "--data-dir", str(data_dir)).stdout.strip() == bootstrap
        assert broker_module.LocalBroker(data_dir).bootstrap_servers == bootstrap  # ports are kept for restarts
    finally:
        stopped = run_cli("stop", "--data-dir", str(data_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert not (data_dir / "broker.pid").exists()
    assert process_gone(pid)
    assert run_cli("status", "--data-dir", str(data_dir)).returncode == 1


def test_a_failed_start_reports_the_cause_from_the_broker_log(kafka_broker: LocalBroker, tmp_path: Path) -> None:
    taken = kafka_broker.port  # the session broker holds this port
    broker = broker_module.LocalBroker(tmp_path / "clash", taken, startup_timeout=60)
    with pytest.raises(broker_module.BrokerStartError, match="Address already in use"):
        broker.start()
    assert not broker.is_running()


def test_fetch_is_a_no_op_once_the_cache_is_complete(kafka_broker: LocalBroker) -> None:
    version_dir = Path(run_cli("fetch").stdout.strip()).parent  # the session's broker completed the cache already
    before = {p: p.stat().st_mtime_ns for p in version_dir.rglob("*")}
    fetched = run_cli("fetch")
    assert fetched.returncode == 0, fetched.stderr
    libs = Path(fetched.stdout.strip())
    assert (libs / f"kafka_2.13-{broker_module.KAFKA_VERSION}.jar").exists()
    assert fetched.stderr == ""  # nothing fetched, nothing recorded
    assert {p: p.stat().st_mtime_ns for p in version_dir.rglob("*")} == before  # not a file written, none added


def test_a_broker_holds_its_ports_from_its_first_start_until_closed(tmp_path: Path) -> None:
    """The launcher picks its ports and the JVM binds them seconds later, and a stop leaves them unbound until the next
    start: held by the LocalBroker meanwhile (as tests/fixtures/waiting.py's PortReservation holds a port), no other
    process can take them, so the broker comes back on them (its clients' bootstrap address stays right)."""
    with broker_module.LocalBroker(tmp_path / "held") as broker:
        ports = broker.port, broker.controller_port
        broker.stop()
        for port in ports:
            with socket.socket() as other, pytest.raises(OSError) as refused:
                other.bind(("127.0.0.1", port))  # what another program picking this port would do
            assert refused.value.errno == errno.EADDRINUSE
        broker.start()
        assert (broker.port, broker.controller_port) == ports
