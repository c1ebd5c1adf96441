"""``/metrics``, ``/healthz`` and ``/readyz`` of a real ``streamproc run`` on the real broker, checked against what
landed in the real Delta tables, and linted by promtool."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.ops import get, metrics_port, promtool, sample_values, scrape
from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, start_cli, stop, write_pipeline
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.kafka

OBSERVABILITY = {"host": "127.0.0.1", "port": 0, "lag_interval_seconds": 0.3}
CONTRACT = {"pipeline": "orders-test", "contract": "orders", "contract_version": "1"}

INVALID = {
    b'{"order_id": 1, "email": ': ("malformed", "json_invalid"),
    b"\xff\xfe\x00garbage": ("malformed", "utf8_invalid"),
    b"[1, 2, 3]": ("malformed", "not_an_object"),
    encode(order(9001, amount="lots")): ("row_discarded", "data_type"),
    encode({k: v for k, v in order(9002).items() if k != "email"}): ("row_discarded", "data_type"),
    encode(order(9003, coupon="XMAS")): ("row_discarded", "columns"),
}


def test_metrics_count_what_landed_and_quarantined_and_pass_promtool(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("metrics")
    events = [encode(order(i)) for i in range(450)]
    for n, payload in enumerate(INVALID):
        events.insert(n * 70, payload)
    run_async(produce, kafka_bootstrap, topic, events, partitions=3)
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100}, observability=OBSERVABILITY
    )
    log = tmp_path / "run.log"

    process = start_cli("run", str(files.config), log=log)
    try:
        port = metrics_port(process)
        assert get(port, "/healthz") == (200, b'{"status":"alive"}')
        wait_until(lambda: get(port, "/readyz")[0] == 200, "/readyz 200", watch=[process])
        wait_until(
            lambda: sample_values(scrape(port), "streamproc_events_received_total") >= len(events),
            "every event received",
            watch=[process],
        )
        # A second wave while running: the lag gauges see it, then drain to zero once it is landed.
        run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(450, 500)], partitions=3)
        wait_until(
            lambda: sample_values(scrape(port), "streamproc_events_landed_total") == 500,
            "the second wave landed",
            watch=[process],
        )
        wait_until(
            lambda: sample_values(text := scrape(port), "streamproc_consumer_lag_records") == 0
            and len([s for f in text_string_to_metric_families(text) for s in f.samples
                     if s.name == "streamproc_consumer_lag_records"]) == 3,
            "lag sampled at 0 on all 3 partitions",
            watch=[process],
        )
        # The last loads' _loads rows are recorded once the commit stage is idle (0.2 s): one observation per commit.
        def every_load_recorded() -> bool:
            text = scrape(port)
            return files.read("loads").num_rows == sample_values(text, "streamproc_batches_total") and sample_values(
                text, "streamproc_delta_commit_duration_seconds_count", table="loads"
            ) == DeltaTable(str(files.loads)).version()

        wait_until(every_load_recorded, "every load's _loads row recorded and its commit observed", watch=[process])
        text = scrape(port)
        status, ready = get(port, "/readyz")
    finally:
        exit_code = stop(process)
    assert exit_code == 0, log.read_text()

    table, quarantine, loads = files.read("table"), files.read("quarantine"), files.read("loads")
    assert sample_values(text, "streamproc_events_landed_total", **CONTRACT) == table.num_rows == 500
    assert sample_values(text, "streamproc_events_quarantined_total", **CONTRACT) == quarantine.num_rows == 6
    assert sample_values(text, "streamproc_events_received_total", **CONTRACT) == len(events) + 50
    by_reason = Counter(INVALID.values())
    for (disposition, reason), count in by_reason.items():
        assert sample_values(
            text, "streamproc_events_quarantined_total", disposition=disposition, reason=reason
        ) == count, (disposition, reason)
    assert sample_values(text, "streamproc_events_discarded_total", mode="discard_row") == 3
    assert sample_values(text, "streamproc_events_redelivered_total") == 0
    assert sample_values(text, "streamproc_batches_total") == loads.num_rows
    assert sample_values(text, "streamproc_batch_events_count") == loads.num_rows
    assert sample_values(text, "streamproc_batch_events_sum") == len(events) + 50
    assert sample_values(text, "streamproc_batch_bytes_sum") == sum(loads["bytes"].to_pylist())
    for role in ("table", "quarantine"):
        assert sample_values(text, "streamproc_delta_commit_duration_seconds_count", table=role) == loads.num_rows
    # _loads rows are recorded in groups: one observation per _loads commit (version 0 created the table)
    loads_commits = DeltaTable(str(files.loads)).version()
    assert 1 <= loads_commits <= loads.num_rows
    assert sample_values(text, "streamproc_delta_commit_duration_seconds_count", table="loads") == loads_commits
    assert sample_values(text, "streamproc_load_duration_seconds_count") == loads.num_rows
    assert sample_values(text, "streamproc_end_to_end_latency_seconds_count") == len(events) + 50
    assert sample_values(text, "streamproc_assigned_partitions") == 3
    assert sample_values(text, "streamproc_storage_writable") == 1
    assert sample_values(text, "streamproc_last_commit_timestamp_seconds") > 0
    assert sample_values(text, "streamproc_delta_commit_retries_total") == 0
    assert sample_values(text, "process_resident_memory_bytes") > 0
    assert (status, json.loads(ready)["checks"]) == (
        200, {"joined": True, "storage_writable": True, "running": True}
    )

    check = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_member_without_partitions_is_ready(kafka_bootstrap: str, tmp_path: Path) -> None:
    """More replicas than partitions: the idle member has joined and must not block a rollout by being unready."""
    topic = new_topic("idle")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(10)], partitions=1)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, observability=OBSERVABILITY)
    processes, ports = [], []
    try:
        for n in range(2):
            log = tmp_path / f"member{n}.log"
            processes.append(start_cli("run", str(files.config), log=log))
            ports.append(metrics_port(processes[-1]))
        # Both members ready, together owning the one partition.
        wait_until(
            lambda: all(get(p, "/readyz")[0] == 200 for p in ports)
            and sorted(sample_values(scrape(p), "streamproc_assigned_partitions") for p in ports) == [0, 1],
            "both members ready, one owning the partition",
            watch=processes,
        )
    finally:
        codes = [stop(p) for p in processes]
    assert codes == [0, 0]
