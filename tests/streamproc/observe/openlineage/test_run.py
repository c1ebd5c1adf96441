"""``streamproc run`` with ``lineage: enabled`` over the real broker: the OpenLineage events it emits (through
openlineage-python's file transport, configured by its own environment variables) are valid OpenLineage (checked
strictly against openlineage-python's generated spec classes and our facet schemas, ``tests/fixtures/openlineage.py``)
and say what the lake says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from streamproc.observe.openlineage.outbox import TERMINAL_EVENT_TYPES
from tests.fixtures.lineage import file_transport_env, read_events, streamproc
from tests.fixtures.openlineage import event_errors
from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, write_file_pipeline, write_pipeline


def _run(
    tmp_path: Path,
    bootstrap: str,
    *,
    events: list[bytes],
    lineage: dict[str, Any] | None = None,
    contract: str = "tests.fixtures.order_contracts:Order",
    max_rows: int = 100,
) -> tuple[Any, Any, list[dict]]:
    topic = new_topic("orders")
    run_async(produce, bootstrap, topic, events, partitions=2)
    files = write_pipeline(
        tmp_path,
        bootstrap,
        topic=topic,
        contract=contract,
        batch={"max_rows": max_rows},
        lineage={
            "enabled": True,
            "namespace": "streamproc-test",
            "outbox_dir": str(tmp_path / "outbox"),
            **(lineage or {}),
        },
    )
    result = streamproc(
        "run", str(files.config), "--until-caught-up", "--json", env=file_transport_env(tmp_path / "events.jsonl")
    )
    return files, result, read_events(tmp_path / "events.jsonl")


def _assert_valid(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert event_errors(event) == [], (event["eventType"], event_errors(event))


@pytest.mark.kafka
def test_a_run_emits_start_a_running_per_load_and_complete_as_the_lake_says(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    good = [encode(order(i)) for i in range(250)]
    bad = [b"not json", encode(order(9001, amount="lots")), encode(order(9002, currency="BTC"))]
    files, result, events = _run(tmp_path, kafka_bootstrap, events=good + bad)

    assert result.returncode == 0, result.stderr
    _assert_valid(events)
    assert [e["eventType"] for e in events] == ["START", *["RUNNING"] * (len(events) - 2), "COMPLETE"]
    run_id = events[0]["run"]["runId"]
    assert {e["run"]["runId"] for e in events} == {run_id}

    loads = {r["load_id"]: r for r in files.read("loads").to_pylist() if r["run_id"] == run_id}
    facets = [e["run"]["facets"]["streamproc_load"] for e in events if e["eventType"] == "RUNNING"]
    assert [f["loadId"] for f in facets] == sorted(loads, key=lambda i: loads[i]["committed_at"])
    table_name = str(files.table)
    for facet in facets:
        load = loads[facet["loadId"]]
        assert facet["table"] == table_name
        assert facet["contract"] == {"name": "orders", "version": "1", "hash": load["contract_hash"]}
        assert (facet["deltaVersion"], facet["rowsLanded"], facet["rowsQuarantined"]) == (
            load["delta_version"],
            load["rows_landed"],
            load["rows_quarantined"],
        )
        assert facet["offsets"] == [
            {"topic": o["topic"], "partition": o["partition"], "first": o["first_offset"], "last": o["last_offset"]}
            for o in load["offsets"]
        ]
    assert sum(f["rowsLanded"] for f in facets) == 250 and sum(f["rowsQuarantined"] for f in facets) == 3

    start, running = events[0], next(e for e in events if e["eventType"] == "RUNNING")
    assert start["job"] == {**start["job"], "namespace": "streamproc-test", "name": "orders-test"}
    assert start["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
    assert start["job"]["facets"]["jobType"]["integration"] == "STREAMPROC"
    assert start["run"]["facets"]["processing_engine"]["name"] == "streamproc"
    (topic_in,) = start["inputs"]
    assert (topic_in["namespace"], topic_in["name"]) == (f"kafka://{kafka_bootstrap}", files.topic)
    table, quarantine = start["outputs"]
    assert (table["namespace"], table["name"]) == ("file", table_name)
    assert (quarantine["namespace"], quarantine["name"]) == ("file", str(files.quarantine))
    facets_of = table["facets"]
    assert facets_of["symlinks"]["identifiers"][0]["name"] == "orders"
    assert facets_of["documentation"]["description"] == "An order placed in the web shop."
    assert facets_of["ownership"]["owners"] == [{"name": "checkout", "type": "OWNER"}]
    assert {"key": "pii", "value": "email", "source": "CONTRACT", "field": "email"} in facets_of["tags"]["tags"]
    assert [f["name"] for f in facets_of["schema"]["fields"]] == pa.schema(
        DeltaTable(table_name).schema().to_arrow()
    ).names
    assert facets_of["columnLineage"]["fields"]["email"]["inputFields"][0] == {
        "namespace": f"kafka://{kafka_bootstrap}",
        "name": files.topic,
        "field": "email",
        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
    }
    assert {"field": "raw_payload", "key": "pii", "value": "email", "source": "CONTRACT"} in (
        quarantine["facets"]["tags"]["tags"]
    )
    load = loads[running["run"]["facets"]["streamproc_load"]["loadId"]]
    assert running["outputs"][0]["facets"]["version"]["datasetVersion"] == str(load["delta_version"])
    assert running["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == load["rows_landed"]
    assert running["outputs"][0]["outputFacets"]["outputStatistics"]["size"] == load["bytes"]
    assert running["outputs"][1]["facets"]["version"]["datasetVersion"] == str(load["quarantine_delta_version"])

    # Each Delta commit of a load carries its run, load, contract and offsets (the lake as the lineage outbox).
    history = {h.get("streamproc.load_id"): h for h in DeltaTable(table_name).history()}
    for facet in facets:
        commit = history[facet["loadId"]]
        assert commit["streamproc.run_id"] == run_id
        assert (
            commit["streamproc.contract_name"],
            commit["streamproc.contract_version"],
            commit["streamproc.contract_hash"],
        ) == ("orders", "1", facet["contract"]["hash"])
        assert json.loads(commit["streamproc.offsets"]) == facet["offsets"]
    assert not list((tmp_path / "outbox").rglob("*.jsonl")), "every event delivered, the outbox is empty"


@pytest.mark.kafka
def test_a_freeze_stop_is_a_fail_with_the_error_message(kafka_bootstrap: str, tmp_path: Path) -> None:
    events = [encode(order(i)) for i in range(20)] + [encode(order(99, amount="lots"))]
    _, result, emitted = _run(
        tmp_path, kafka_bootstrap, events=events, contract="tests.fixtures.order_contracts:FrozenOrder", max_rows=10
    )

    assert result.returncode == 3, result.stderr
    _assert_valid(emitted)
    assert emitted[0]["eventType"] == "START" and emitted[-1]["eventType"] == "FAIL"
    assert not any(e["eventType"] in TERMINAL_EVENT_TYPES for e in emitted[:-1])
    message = emitted[-1]["run"]["facets"]["errorMessage"]
    assert message["programmingLanguage"] == "PYTHON"
    assert "ContractStopError" in message["message"] and "frozen_orders" in message["message"]


@pytest.mark.kafka
def test_every_n_seconds_summarises_the_loads_in_one_running_event(kafka_bootstrap: str, tmp_path: Path) -> None:
    files, result, events = _run(
        tmp_path,
        kafka_bootstrap,
        events=[encode(order(i)) for i in range(300)],
        lineage={"emit": "every_n_seconds", "every_seconds": 3600},
    )

    assert result.returncode == 0, result.stderr
    _assert_valid(events)
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "COMPLETE"]
    summary = events[1]
    loads = files.read("loads").to_pylist()
    assert len(loads) >= 3
    listed = summary["run"]["facets"]["streamproc_loads"]["loads"]
    assert [f["loadId"] for f in listed] == [r["load_id"] for r in sorted(loads, key=lambda r: r["committed_at"])]
    assert summary["run"]["facets"]["streamproc_load"]["loadId"] == listed[-1]["loadId"]
    assert summary["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 300
    assert summary["job"]["facets"]["jobType"]["emissionPattern"] == {
        "eventTrigger": "PERIODIC",
        "eventContentMode": "ACCUMULATIVE",
        "windowDuration": 3600,
    }


def test_a_file_source_is_the_input_dataset(tmp_path: Path) -> None:
    config = write_file_pipeline(
        tmp_path,
        events=30,
        name="orders-file",
        batch={"max_rows": 10},
        observability={"enabled": False},
        lineage={"enabled": True},
    )
    data = tmp_path / "orders.ndjson"
    result = streamproc("run", str(config), env=file_transport_env(tmp_path / "events.jsonl"))

    assert result.returncode == 0, result.stderr
    events = read_events(tmp_path / "events.jsonl")
    _assert_valid(events)
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "RUNNING", "RUNNING", "COMPLETE"]
    assert [(i["namespace"], i["name"]) for i in events[0]["inputs"]] == [("file", str(data))]
    email = events[1]["outputs"][0]["facets"]["columnLineage"]["fields"]["email"]["inputFields"][0]
    assert (email["namespace"], email["name"], email["field"]) == ("file", str(data), "email")
    assert (tmp_path / "lake" / "_lineage_outbox" / "streamproc" / "orders-file").is_dir()
    assert not list((tmp_path / "lake" / "_lineage_outbox").rglob("*.jsonl"))
