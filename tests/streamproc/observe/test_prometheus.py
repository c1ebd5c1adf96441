"""The metrics observer and the readiness checks on their own hooks: schema evolutions over real runs (in-process
pipelines on the real broker and real Delta tables), and how storage retries are classified and reported."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pyarrow as pa
import pytest
import yaml
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from prometheus_client import REGISTRY

from contracts import schema_hash

from streamproc.config import load_config
from streamproc.errors import CommitConflictError, StorageUnavailableError
from streamproc.observe.prometheus import PrometheusObserver
from streamproc.observe.readiness import Readiness
from streamproc.observe.observer import RunInfo
from streamproc.runtime.pipeline import Pipeline
from tests.fixtures.contract_modes import EvolvingOrder
from tests.fixtures.evolving_orders import OrderV1
from tests.fixtures.ops import metrics_port, sample_values, scrape
from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, start_cli, stop, write_pipeline
from tests.fixtures.waiting import wait_until
from streamproc.sinks.reader import read_table


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _run(config_path: Path) -> tuple[PrometheusObserver, Readiness]:
    metrics, readiness = PrometheusObserver(), Readiness()
    pipeline = Pipeline(load_config(config_path), until_caught_up=True, observers=[metrics, readiness])
    anyio.run(pipeline.run)
    return metrics, readiness


@pytest.mark.kafka
def test_a_new_contract_version_on_an_existing_table_counts_one_schema_evolution(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("evolve")
    labels = {"pipeline": "orders-test", "contract": "evolving_orders"}

    def run(contract: str, events: range) -> Readiness:
        run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in events], partitions=1)
        files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract=contract,
                               observability={"enabled": False})
        return _run(files.config)[1]

    readiness = run("tests.fixtures.evolving_orders:OrderV1", range(20))
    assert _value("streamproc_schema_evolutions_total", **labels, contract_version="1") == 0  # a new table
    assert readiness.joined and readiness.storage_writable and readiness.stopping

    before = _value("streamproc_schema_evolutions_total", **labels, contract_version="2")
    run("tests.fixtures.evolving_orders:OrderV2", range(20, 40))
    assert _value("streamproc_schema_evolutions_total", **labels, contract_version="2") == before + 1
    run("tests.fixtures.evolving_orders:OrderV2", range(40, 45))  # the same version again: no evolution
    assert _value("streamproc_schema_evolutions_total", **labels, contract_version="2") == before + 1
    assert read_table(str(tmp_path / "lake" / "orders")).num_rows == 45


def test_storage_retries_are_classified_and_flip_readiness(tmp_path: Path) -> None:
    table = tmp_path / "lake" / "orders"
    DeltaTable.create(str(table), schema=pa.schema([("n", pa.int64())]))
    files = write_pipeline(tmp_path, "127.0.0.1:9", topic="unused")
    run = RunInfo(run_id="r", config=load_config(files.config), contract=OrderV1, contract_hash="sha256:x",
                  source_uris={}, tables={"table": str(table)})
    metrics, readiness = PrometheusObserver(), Readiness()
    pipeline = {"pipeline": "orders-test"}

    def conflict() -> StorageUnavailableError:
        # What the Delta writer raises for a lost commit race (streamproc.sinks.delta).
        try:
            raise CommitFailedError("Failed to commit transaction: Concurrent transaction failed.")
        except CommitFailedError as exc:
            try:
                raise CommitConflictError("concurrent commit") from exc
            except CommitConflictError as wrapped:
                return wrapped

    def outage() -> StorageUnavailableError:
        try:
            raise OSError(5, "Input/output error")
        except OSError as exc:
            try:
                raise StorageUnavailableError("cannot append") from exc
            except StorageUnavailableError as wrapped:
                return wrapped

    async def scenario() -> None:
        for observer in (metrics, readiness):
            await observer.on_start(run)
            await observer.on_assigned(set())
        assert readiness.ready
        before = {reason: _value("streamproc_delta_commit_retries_total", **pipeline, reason=reason)
                  for reason in ("conflict", "storage")}
        conflicts = _value("streamproc_delta_commit_conflicts_total", **pipeline)
        await metrics.on_storage_retry(conflict(), 1)
        assert _value("streamproc_delta_commit_conflicts_total", **pipeline) == conflicts + 1
        assert _value("streamproc_delta_commit_retries_total", **pipeline, reason="conflict") == before["conflict"] + 1
        assert _value("streamproc_storage_writable", **pipeline) == 1  # a conflict is not an outage
        for observer in (metrics, readiness):
            await observer.on_storage_retry(outage(), 2)
        assert _value("streamproc_delta_commit_retries_total", **pipeline, reason="storage") == before["storage"] + 1
        assert _value("streamproc_storage_writable", **pipeline) == 0
        assert not readiness.ready and readiness.checks()["storage_writable"] is False

    anyio.run(scenario)


def test_evolve_counts_each_inferred_version_and_labels_rows_with_it(tmp_path: Path) -> None:
    """``evolve`` changes the table's schema mid-run: each inferred version counts one schema evolution, and the
    landed rows are counted under the version they carry (``_contract_version``), not the declared one."""
    events = [order(i) for i in range(30)]
    events[10] = order(10, coupon="XMAS")  # a new column: inferred v2
    events[20] = order(20, amount="lots")  # a variant column: inferred v3
    data = tmp_path / "orders.ndjson"
    data.write_bytes(b"\n".join(encode(e) for e in events) + b"\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({
        "name": "evolve-metrics", "contract": "tests.fixtures.contract_modes:EvolvingOrder",
        "source": {"type": "file", "path": str(data)}, "sink": {"table_uri": str(tmp_path / "lake" / "orders")},
        "batch": {"max_rows": 10}, "observability": {"enabled": False},
    }))
    labels = {"pipeline": "evolve-metrics", "contract": "evolving_orders"}

    _run(config)

    rows = read_table(str(tmp_path / "lake" / "orders")).to_pylist()
    landed = {v: sum(r["_contract_version"] == v for r in rows) for v in (1, 2, 3)}
    assert landed == {1: 10, 2: 10, 3: 10}
    assert {v: _value("streamproc_events_landed_total", **labels, contract_version=str(v)) for v in (1, 2, 3)} == {
        1: 10, 2: 10, 3: 10
    }
    evolutions = {v: _value("streamproc_schema_evolutions_total", **labels, contract_version=str(v)) for v in (1, 2, 3)}
    assert evolutions == {1: 0, 2: 1, 3: 1}
    last = max(read_table(str(tmp_path / "lake" / "_loads")).to_pylist(), key=lambda load: load["committed_at"])
    assert last["contract_version"] == 3
    assert _value("streamproc_contract_info", **labels, version="3", hash=last["contract_hash"]) == 1
    assert _value("streamproc_contract_info", **labels, version="1", hash=schema_hash(EvolvingOrder)) == 0

    with data.open("ab") as more:  # a restart on the evolved table, landing rows v3 describes: no evolution
        more.write(b"\n".join(encode(order(i, coupon=f"c{i}")) for i in range(30, 35)) + b"\n")
    _run(config)
    assert _value("streamproc_events_landed_total", **labels, contract_version="3") == 15
    assert {v: _value("streamproc_schema_evolutions_total", **labels, contract_version=str(v))
            for v in (1, 2, 3)} == evolutions


@pytest.mark.kafka
def test_the_open_batch_gauge_counts_the_events_waiting_for_their_batch_to_close(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """``streamproc_batch_open_events``: the events fetched into the micro-batch not yet closed (here: fewer than
    ``max_rows``, long before the linger), read from the real endpoint of a running ``streamproc run``."""
    topic = new_topic("open-batch")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(7)], partitions=1)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 1000, "max_linger_seconds": 600})
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        port = metrics_port(process)
        wait_until(lambda: sample_values(scrape(port), "streamproc_batch_open_events", pipeline="orders-test") == 7,
                   "the 7 events in the open batch", watch=[process])
        assert stop(process, signal.SIGTERM) == 0, process.output()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert files.read("table").num_rows == 7  # the open batch landed at the stop
