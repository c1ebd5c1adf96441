"""Table maintenance (compaction, checkpoints, vacuum) never breaks exactly once: real Delta tables on disk."""

from __future__ import annotations

import signal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError

from streamproc.config import MaintenanceConfig
from streamproc.sinks.maintenance import TableMaintainer
from streamproc.records import TopicPartition
from tests.fixtures.exactly_once import assert_exactly_once, expected_through, offsets_batch, open_lander
from tests.fixtures.pipelines import (
    encode,
    new_topic,
    order,
    produce,
    run_async,
    run_cli,
    start_cli,
    stop,
    write_pipeline,
)
from tests.fixtures.s3 import S3Server, s3_server  # noqa: F401 - the fixture
from tests.fixtures.waiting import wait_until
from streamproc.sinks.reader import read_table

TP = TopicPartition("orders", 0)


def _orphan_from_a_lost_commit_race(uri: str) -> set[str]:
    """Two writers append at the same version with a txn for the same app id: the loser's data file stays on disk
    with no commit referencing it. Returns the data files the log does not reference."""
    first, second = DeltaTable(uri), DeltaTable(uri)
    schema = pa.schema(first.schema().to_arrow())
    rows = pa.Table.from_pylist([], schema=schema)
    app = [Transaction(app_id="g/race/orders/9", version=1)]
    write_deltalake(first, rows, mode="append", commit_properties=CommitProperties(app_transactions=app))
    payload = read_table(first).slice(0, 1)  # any row: it never becomes visible
    with pytest.raises(CommitFailedError):
        write_deltalake(second, payload, mode="append", commit_properties=CommitProperties(app_transactions=app))
    return _unreferenced(uri)


def _unreferenced(uri: str) -> set[str]:
    referenced = {Path(p).name for p in DeltaTable(uri).file_uris()}
    return {p.name for p in Path(uri).glob("*.parquet")} - referenced


def test_compaction_checkpoint_and_vacuum_keep_the_txn_versions_and_exactly_once(tmp_path: Path) -> None:
    lander = open_lander(tmp_path)
    for first in range(0, 1000, 50):
        lander.land(offsets_batch(0, first, first + 49))
    table_uri = str(tmp_path / "orders")
    orphans = _orphan_from_a_lost_commit_race(table_uri)
    assert orphans, "the lost commit left its data file behind"
    before = {w.uri: len(DeltaTable(w.uri).file_uris()) for w in lander.writers}
    rows_before = read_table(table_uri).sort_by("_offset")
    maintainer = TableMaintainer(
        MaintenanceConfig(compact_min_files=10, vacuum_retention_hours=0), [w.uri for w in lander.writers]
    )

    reports = maintainer.compact() + maintainer.vacuum()

    compacted = {r.table for r in reports if r.action == "compact"}
    assert table_uri in compacted and str(tmp_path / "_loads") in compacted
    for uri in compacted:
        assert len(DeltaTable(uri).file_uris()) < before[uri]
    assert any(r.action == "checkpoint" for r in reports)
    assert list((tmp_path / "orders" / "_delta_log").glob("*.checkpoint.parquet"))
    assert not _unreferenced(table_uri), "vacuum removed the orphan of the failed commit"
    assert read_table(table_uri).sort_by("_offset").equals(rows_before)

    # The Delta log still says where to resume, and what it holds is not landed again.
    restarted = open_lander(tmp_path, run_id="after-maintenance")
    assert restarted.positions([TP]) == {TP: 1000}
    assert restarted.land(offsets_batch(0, 900, 999)).already_landed
    restarted.land(offsets_batch(0, 1000, 1199))
    valid, invalid = expected_through({0: 1199})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)


def test_the_pipeline_maintains_its_tables_while_landing(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("maintained")
    events = [encode(order(i)) for i in range(3000)]
    files = write_pipeline(
        tmp_path,
        kafka_bootstrap,
        topic=topic,
        batch={"max_rows": 50, "max_linger_seconds": 0.2},
        maintenance={"interval_seconds": 1, "compact_min_files": 10, "vacuum_interval_seconds": 1,
                     "vacuum_retention_hours": 0},
        observability={"port": 0},
    )
    coordinates = run_async(produce, kafka_bootstrap, topic, events[:2000], partitions=2)
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        wait_until(lambda: _commits(files.lake, "OPTIMIZE"), "a compaction", watch=[process])
        coordinates += run_async(produce, kafka_bootstrap, topic, events[2000:], partitions=2)
        wait_until(
            lambda: any(c["operationMetrics"].get("numDeletedFiles", 0) for c in _commits(files.lake, "VACUUM END")),
            "a vacuum that deleted the compacted files",
            watch=[process],
        )
    finally:
        assert stop(process, signal.SIGTERM) == 0, process.output()[-3000:]
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr[-3000:]

    # The checkpoint is of the maintainer's table handle right after its compaction: the compaction's version, or a
    # later one when a concurrent append landed in between.
    first_compaction: dict[str, int] = {}
    for commit in sorted(_commits(files.lake, "OPTIMIZE"), key=lambda commit: -commit["version"]):
        first_compaction[commit["table"]] = commit["version"]
    assert any(
        int(checkpoint.name.split(".")[0]) >= version
        for table, version in first_compaction.items()
        for checkpoint in (files.lake / table / "_delta_log").glob("*.checkpoint.parquet")
    ), "a checkpoint follows a compaction"
    assert_exactly_once(files.table, valid=set(coordinates), invalid=set())


def _commits(lake: Path, operation: str) -> list[dict]:
    """The commits of ``operation`` in the history of every table in ``lake``, each with its ``table`` name."""
    return [
        {**commit, "table": table.name}
        for table in lake.iterdir()
        if (table / "_delta_log").is_dir()
        for commit in DeltaTable(str(table)).history()
        if commit.get("operation") == operation
    ] if lake.is_dir() else []


def _small_files(uri: str, count: int, storage_options: dict[str, str] | None = None) -> None:
    for n in range(count):
        write_deltalake(uri, pa.table({"n": [n]}), mode="append", storage_options=storage_options)


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_vacuum_reports_only_the_files_it_really_deleted(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """delta-rs's vacuum lists the log's expired tombstones as deleted on every run, also once their files are gone:
    the report (and the maintenance log line made from it) counts only files that were there, and a vacuum with
    nothing to delete commits nothing. On a local disk and on S3 (moto's server)."""
    options: dict[str, str] | None = None
    if storage == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        uri, options = f"s3://{server.create_bucket()}/orders", server.storage_options
    else:
        uri = str(tmp_path / "orders")
    _small_files(uri, 12, options)
    maintainer = TableMaintainer(MaintenanceConfig(compact_min_files=10, vacuum_retention_hours=0), [uri],
                                 storage_options=options)
    maintainer.compact()

    [first] = maintainer.vacuum()
    assert first.files_removed == 12
    if storage == "local":
        assert len(list(Path(uri).glob("*.parquet"))) == 1  # the compacted file

    history = DeltaTable(uri, storage_options=options).history
    commits = len(history())
    [second] = maintainer.vacuum()
    assert second.files_removed == 0
    assert len(history()) == commits  # no VACUUM START/END pair for nothing


def test_the_compaction_report_names_the_optimize_commits_version_when_an_append_follows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """delta-rs refreshes the compacting handle to the newest version after the OPTIMIZE commit: an append landed in
    between (another member, or this one's landing beside maintenance) must not be reported as the compaction's."""
    uri = str(tmp_path / "orders")
    _small_files(uri, 12)
    refresh = DeltaTable.update_incremental
    appended: list[int] = []

    def append_then_refresh(table: DeltaTable) -> None:
        if not appended:  # a concurrent writer's append, right after the OPTIMIZE commit
            write_deltalake(uri, pa.table({"n": [99]}), mode="append")
            appended.append(DeltaTable(uri).version())
        refresh(table)

    monkeypatch.setattr(DeltaTable, "update_incremental", append_then_refresh)
    maintainer = TableMaintainer(MaintenanceConfig(compact_min_files=10, checkpoint=False), [uri])

    [report] = maintainer.compact()

    [optimize] = [c for c in DeltaTable(uri).history() if c["operation"] == "OPTIMIZE"]
    assert appended == [optimize["version"] + 1]
    assert report.version == optimize["version"]
