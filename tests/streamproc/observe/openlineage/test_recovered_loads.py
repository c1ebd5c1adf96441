"""A load a crash interrupted (landed, but no ``_loads`` row) is recorded by the next run on assignment and announced
live as a RUNNING event of the crashed run, not only by ``streamproc lineage backfill``. Real Delta tables, the real
``streamproc run`` CLI with a file source, openlineage-python's file transport."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from streamproc.batching.batcher import MicroBatch
from streamproc.errors import StorageUnavailableError
from streamproc.records import SourceRecord
from tests.fixtures.exactly_once import open_lander, unavailable
from tests.fixtures.lineage import file_transport_env, read_events, streamproc
from tests.fixtures.openlineage import event_errors
from tests.fixtures.pipelines import write_file_pipeline
from streamproc.sinks.reader import read_table


def _batch(data: Path, payloads: list[bytes], first: int, last: int) -> MicroBatch:
    records = [SourceRecord(data.name, 0, o, payloads[o]) for o in range(first, last + 1)]
    return MicroBatch.of(records, close_reason="rows")


def test_a_load_a_crash_interrupted_is_announced_by_the_next_run(tmp_path: Path) -> None:
    config = write_file_pipeline(
        tmp_path,
        events=60,
        name="orders-file",
        batch={"max_rows": 20},
        observability={"enabled": False},
        lineage={"enabled": True, "outbox_dir": str(tmp_path / "outbox")},
    )
    data, lake = tmp_path / "orders.ndjson", tmp_path / "lake"
    payloads = data.read_bytes().splitlines()
    # The crashed process (lineage off, or its outbox lost): lands events 0..19, then dies after the table commit
    # of events 20..39, before their _loads row.
    crashed = str(uuid.uuid4())
    lander = open_lander(
        lake, group="file", run_id=crashed, pipeline="orders-file", source_uris={data.name: data.resolve().as_uri()}
    )
    lander.land(_batch(data, payloads, 0, 19))
    with unavailable(lake / "_loads"), pytest.raises(StorageUnavailableError):
        lander.land(_batch(data, payloads, 20, 39), load_id="interrupted-load")

    result = streamproc("run", str(config), env=file_transport_env(tmp_path / "events.jsonl"))

    assert result.returncode == 0, result.stderr
    events = read_events(tmp_path / "events.jsonl")
    for event in events:
        assert event_errors(event) == [], (event["eventType"], event_errors(event))
    loads = {r["load_id"]: r for r in read_table(str(lake / "_loads")).to_pylist()}
    recovered = loads["interrupted-load"]
    assert recovered["run_id"] == crashed and recovered["rows_landed"] == 20
    # the next run's START, then the crashed run's recovered load, then the next run's own load and COMPLETE
    assert [(e["eventType"], e["run"]["runId"] == crashed) for e in events] == [
        ("START", False),
        ("RUNNING", True),
        ("RUNNING", False),
        ("COMPLETE", False),
    ]
    announced = events[1]
    facet = announced["run"]["facets"]["streamproc_load"]
    assert (facet["loadId"], facet["deltaVersion"], facet["rowsLanded"]) == (
        "interrupted-load",
        recovered["delta_version"],
        20,
    )
    assert facet["offsets"] == [{"topic": data.name, "partition": 0, "first": 20, "last": 39}]
    assert dt.datetime.fromisoformat(announced["eventTime"]) == recovered["committed_at"]
    assert announced["outputs"][0]["facets"]["version"]["datasetVersion"] == str(recovered["delta_version"])
    assert announced["job"] == {**announced["job"], "namespace": "streamproc", "name": "orders-file"}
    assert not list((tmp_path / "outbox").rglob("*.jsonl")), "every event delivered"
