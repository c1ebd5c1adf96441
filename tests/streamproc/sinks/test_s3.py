"""Delta tables on S3-compatible storage (moto's S3 server on loopback): landing by ``s3://`` URL with
``storage_options`` from the config and the environment, commits by conditional put (no lock), and the exactly-once
resume from the Delta log on S3 after a crash, even when Kafka's committed offsets say otherwise."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import anyio
import pyarrow as pa
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from tests.fixtures.pipelines import (
    encode,
    new_topic,
    order,
    produce,
    run_async,
    run_cli,
    start_cli,
    write_pipeline,
)
from tests.fixtures.s3 import S3Server, s3_server  # noqa: F401 - the fixture
from tests.fixtures.waiting import DEADLINE_SECONDS, wait_until
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka

# Credentials and endpoint come from the environment through ${VAR} (never written into the config file).
STORAGE_OPTIONS = {
    "AWS_ENDPOINT_URL": "${AWS_ENDPOINT_URL}",
    "AWS_ACCESS_KEY_ID": "${AWS_ACCESS_KEY_ID}",
    "AWS_SECRET_ACCESS_KEY": "${AWS_SECRET_ACCESS_KEY}",
    "AWS_REGION": "${AWS_REGION:-us-east-1}",
    "AWS_ALLOW_HTTP": "${AWS_ALLOW_HTTP:-false}",
    "aws_conditional_put": "etag",
}
INVALID = [b"not json", encode(order(9001, amount="lots")), encode(order(9002, coupon="XMAS"))]


def _read(server: S3Server, uri: str) -> pa.Table:
    return read_table(uri, storage_options=server.storage_options)


def _rows(server: S3Server, uri: str) -> int:
    """Rows in the table at ``uri`` (0 before it exists)."""
    try:
        return _read(server, uri).num_rows
    except TableNotFoundError:
        return 0


async def _rewind_group(bootstrap: str, group: str, topic: str, partitions: int) -> None:
    """Commit offset 0 for every partition: Kafka now says 'start over'; only the Delta log knows better.

    The broker accepts it once the killed member's session expired and the group is empty.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        with anyio.fail_after(DEADLINE_SECONDS):
            while True:
                try:
                    await consumer.commit({tp: 0 for tp in tps})
                    return
                except KafkaError:
                    await anyio.sleep(0.5)
    finally:
        await consumer.stop()


def test_lands_on_s3_and_resumes_exactly_once_from_the_delta_log_after_a_crash(
    kafka_bootstrap: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.environment.items():
        monkeypatch.setenv(name, value)
    bucket = s3_server.create_bucket()
    table_uri = f"s3://{bucket}/shop/orders"
    topic = new_topic("s3")
    first = [encode(order(i)) for i in range(1500)]
    first[100:100] = INVALID
    run_async(produce, kafka_bootstrap, topic, first, partitions=3)

    def pipeline(folder: Path, storage_options: dict[str, str]):  # noqa: ANN202
        folder.mkdir(exist_ok=True)
        return write_pipeline(
            folder,
            kafka_bootstrap,
            topic=topic,
            # Loads of 100 and a 10-minute linger: of the first 1,503 events the last 3 can only land at a shutdown
            # or a caught-up exit, so the crash below always leaves some unlanded, however fast the landing.
            batch={"max_rows": 100, "max_linger_seconds": 600},
            # the killed member leaves the group after 6 s (the broker's minimum) instead of 30
            source={"type": "kafka", "bootstrap_servers": kafka_bootstrap, "topics": [topic],
                    "consumer_group": f"g-{topic}", "session_timeout_seconds": 6},
            sink={"table_uri": table_uri, "storage_options": storage_options},
            observability={"enabled": False},
        )

    # First run as in a container: credentials and endpoint only in the environment, which delta-rs reads itself.
    files = pipeline(tmp_path / "env", {"aws_conditional_put": "etag"})

    # Crash (SIGKILL) after some loads are committed to S3: whatever was in flight is neither acknowledged nor lost.
    log = tmp_path / "crashed.log"
    process = start_cli("run", str(files.config), log=log)
    try:
        wait_until(lambda: _rows(s3_server, f"s3://{bucket}/shop/_loads"), "a first load on S3", watch=[process])
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    landed_before = sum(_rows(s3_server, uri) for uri in (table_uri, f"{table_uri}__quarantine"))
    assert 0 < landed_before < len(first)

    # Kafka forgets the group's progress; more events arrive; the restarted consumer seeks from the Delta log on S3.
    run_async(_rewind_group, kafka_bootstrap, files.group, topic, 3)
    second = [encode(order(i)) for i in range(1500, 2000)]
    run_async(produce, kafka_bootstrap, topic, second, partitions=3)
    # Second run with every option spelled out in the config (from ${VAR}s): the same table, the same positions.
    files = pipeline(tmp_path / "explicit", STORAGE_OPTIONS)
    result = run_cli("run", str(files.config), "--until-caught-up", "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    assert "from the Delta log: " + topic in result.stderr

    table = _read(s3_server, table_uri)
    quarantine = _read(s3_server, f"{table_uri}__quarantine")
    loads = _read(s3_server, f"s3://{bucket}/shop/_loads")
    order_ids = table["order_id"].to_pylist()
    assert sorted(order_ids) == list(range(2000)), "every valid event exactly once"
    coordinates = Counter(zip(table["_partition"].to_pylist(), table["_offset"].to_pylist()))
    assert max(coordinates.values()) == 1
    assert sorted(quarantine["raw_payload"].to_pylist()) == sorted(INVALID), "every invalid event exactly once"
    assert sum(loads["rows_landed"].to_pylist()) == 2000
    assert sum(loads["rows_quarantined"].to_pylist()) == len(INVALID)
    assert set(table["_source"].to_pylist()) == {f"kafka://{kafka_bootstrap}/{topic}"}

    # The objects are really in the bucket: data files and a Delta log per table, no lock table anywhere.
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    for prefix in ("shop/orders/_delta_log/", "shop/orders__quarantine/_delta_log/", "shop/_loads/_delta_log/"):
        assert any(key.startswith(prefix) for key in keys), prefix
    assert any(key.startswith("shop/orders/") and key.endswith(".parquet") for key in keys)


def test_concurrent_writers_on_s3_are_serialised_by_conditional_put(s3_server: S3Server) -> None:
    """Two writers commit from the same table version: both land (delta-rs rebases the loser onto the winner's
    commit) and no commit file is overwritten; a second ``txn`` for one application id is refused (fencing)."""
    from deltalake import CommitProperties, Transaction, write_deltalake
    from deltalake.exceptions import CommitFailedError

    uri = f"s3://{s3_server.create_bucket()}/t"
    options = s3_server.storage_options
    DeltaTable.create(uri, schema=pa.schema([("n", pa.int64())]), storage_options=options)
    one, two = DeltaTable(uri, storage_options=options), DeltaTable(uri, storage_options=options)
    write_deltalake(one, pa.table({"n": [1]}), mode="append")
    write_deltalake(two, pa.table({"n": [2]}), mode="append")  # from the stale version 0
    assert sorted(_read(s3_server, uri)["n"].to_pylist()) == [1, 2]

    fenced = [DeltaTable(uri, storage_options=options) for _ in range(2)]
    txn = CommitProperties(app_transactions=[Transaction(app_id="g/t/topic/0", version=10)])
    write_deltalake(fenced[0], pa.table({"n": [3]}), mode="append", commit_properties=txn)
    with pytest.raises(CommitFailedError):
        write_deltalake(fenced[1], pa.table({"n": [3]}), mode="append", commit_properties=txn)
    assert sorted(_read(s3_server, uri)["n"].to_pylist()) == [1, 2, 3]
