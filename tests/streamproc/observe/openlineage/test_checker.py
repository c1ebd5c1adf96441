"""The strict OpenLineage checker of the lineage tests (``tests/fixtures/openlineage.py``): the events streamproc
builds pass it, and each kind of violation it promises to catch is reported at its path."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from openlineage.client.serde import Serde

from streamproc.observe.openlineage import describe, events
from streamproc.lineage.loads import LoadRecord, OffsetRange
from tests.fixtures.openlineage import event_errors
from tests.fixtures.order_contracts import Order

RUN = describe.describe_run(
    run_id=str(uuid.uuid4()),
    namespace="streamproc-test",
    pipeline="orders-test",
    contract=Order,
    source_uris={"orders": "kafka://127.0.0.1:9092/orders"},
    table_uri="/lake/orders",
    quarantine_uri="/lake/orders__quarantine",
    emission="every_n_seconds",
    window_seconds=60,
)


def _load(n: int) -> LoadRecord:
    at = dt.datetime(2026, 1, 1, 12, 0, n, tzinfo=dt.UTC)
    return LoadRecord(
        load_id=f"load-{n}",
        run_id=RUN.run_id,
        pipeline="orders-test",
        table_name="orders",
        table_uri="/lake/orders",
        consumer_group="orders-test",
        contract_name="orders",
        contract_version=1,
        contract_hash="sha256:00",
        rows_landed=10,
        rows_quarantined=1,
        bytes=1000,
        close_reason="rows",
        offsets=(OffsetRange("orders", 0, 10 * n, 10 * n + 10),),
        delta_version=n,
        quarantine_delta_version=n,
        started_at=at,
        committed_at=at,
    )


def _json(event: Any) -> dict[str, Any]:
    return json.loads(Serde.to_json(event))


def _window() -> dict[str, Any]:
    return _json(events.load_event(RUN, [_load(1), _load(2)]))


@pytest.mark.parametrize(
    "event",
    [
        events.start_event(RUN),
        events.load_event(RUN, [_load(1)]),
        events.load_event(RUN, [_load(1), _load(2)]),
        events.complete_event(RUN),
        events.fail_event(RUN, RuntimeError("boom")),
    ],
    ids=["START", "RUNNING", "RUNNING-window", "COMPLETE", "FAIL"],
)
def test_the_events_streamproc_builds_pass(event: Any) -> None:
    assert event_errors(_json(event)) == []


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()
_TABLE = ["outputs", 0, "facets"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set(["run", "runId"], "not-a-uuid"), "event.run.runId: Run refused 'not-a-uuid'"),
        (_set(["eventTime"], "yesterday"), "event.eventTime: RunEvent refused 'yesterday'"),
        (_set(["eventTime"], "2026-01-01T12:00:00"), "has no UTC offset"),
        (_set(["eventType"], "DONE"), "event.eventType: 'DONE' is not one of"),
        (_set(["producer"], "streamproc"), "event.producer: 'streamproc' is not a URI"),
        (_set(["job", "name"], _DELETE), "event.job.name: missing (required by Job)"),
        (_set([*_TABLE, "schema", "_producer"], _DELETE), "schema._producer: missing"),
        (_set([*_TABLE, "version", "datasetVersion"], 7), "version.datasetVersion: expected a string, got an integer"),
        (_set([*_TABLE, "symlinks", "identifiers", 0, "type"], _DELETE), "identifiers[0].type: missing"),
        (_set([*_TABLE, "tags", "tags", 0, "field"], None), "null is not allowed"),
        (
            _set([*_TABLE, "schema", "_schemaURL"], "https://openlineage.io/spec/facets/1-1-0/SchemaDatasetFacet.json"),
            "schema._schemaURL: 'https://openlineage.io/spec/facets/1-1-0/SchemaDatasetFacet.json' is not "
            "SchemaDatasetFacet's",
        ),
        (_set([*_TABLE, "schema", "fields", 0, "nmae"], "x"), "unknown key(s) ['nmae'] for SchemaDatasetFacetFields"),
        (_set([*_TABLE, "myFacet"], {}), "outputs[0].facets.myFacet: unknown facet key 'myFacet'"),
        (_set(["outputs", 0, "outputFacets", "outputStatistics", "rowCount"], True), "rowCount: expected an integer"),
        (_set(["job", "facets", "jobType", "processingType"], ["STREAMING"]), "processingType: expected a string"),
        (_set(["run", "facets", "streamproc_load", "offsets"], _DELETE), "streamproc_load.offsets: missing"),
        (
            _set(["run", "facets", "streamproc_load", "deltaVersion"], -1),
            "streamproc_load: -1 is less than the minimum of 0 at ['deltaVersion']",
        ),
        (
            _set(["run", "facets", "streamproc_loads", "loads", 1, "closeReason"], "bored"),
            "at ['loads', 1, 'closeReason'] (schema StreamprocLoadsRunFacet)",
        ),
        (
            _set(["run", "facets", "streamproc_loads", "loads", 0, "_schemaURL"], _DELETE),
            "streamproc_loads.loads[0]._schemaURL: missing",
        ),
    ],
)
def test_each_violation_is_reported_at_its_path(change: Callable[[dict[str, Any]], None], expected: str) -> None:
    event = _window()
    change(event)
    errors = event_errors(event)
    assert any(expected in error for error in errors), errors


def test_allow_accepts_what_the_spec_allows_and_still_refuses_the_rest() -> None:
    event = _window()
    event["outputs"][0]["facets"]["acme_quality"] = {"_producer": "https://acme.example", "_schemaURL": "https://a#/b"}
    event["outputs"][0]["facets"]["schema"]["fields"][0]["x-origin"] = "kafka"
    assert event_errors(event, extra="allow") == []
    assert len(event_errors(event)) == 2
    event["outputs"][0]["facets"]["acme_quality"] = {"_producer": "https://acme.example"}
    assert event_errors(event, extra="allow") == [
        "event.outputs[0].facets.acme_quality._schemaURL: missing, or not a URI"
    ]
