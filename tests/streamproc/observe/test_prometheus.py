"""The metrics observer and the readiness checks on their own hooks: schema evolutions over real runs (in-process
pipelines on the real broker and real Delta tables), and how storage retries are classified and reported."""

from __future__ import annotations

from pathlib import Path

import anyio
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from prometheus_client import REGISTRY

from streamproc.config import load_config
from streamproc.errors import CommitConflictError, StorageUnavailableError
from streamproc.observe.prometheus import PrometheusObserver
from streamproc.observe.readiness import Readiness
from streamproc.observe.observer import RunInfo
from streamproc.runtime.pipeline import Pipeline
from tests.fixtures.evolving_orders import OrderV1
from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, write_pipeline
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
