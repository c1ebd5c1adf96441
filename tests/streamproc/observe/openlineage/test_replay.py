"""A quarantine replay's OpenLineage run, received by the real catalog (``streamproc catalog serve``) through
openlineage-python's HTTP transport: a job of its own reading the quarantine dataset and writing the table, one
RUNNING event per replay load, each event valid against the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.lineage import CatalogServer, http_transport_env, streamproc
from tests.fixtures.openlineage import event_errors
from tests.fixtures.quarantine import Lake

pytestmark = pytest.mark.kafka


def test_a_replay_is_a_run_of_its_own_job_from_the_quarantine_to_the_table(
    quarantined: Lake, tmp_path: Path, catalog: CatalogServer
) -> None:
    config = quarantined.copy(tmp_path, lineage={"enabled": True})
    lake = tmp_path / "lake"

    result = streamproc(
        "quarantine", "replay", str(config), "--json", "--batch-size", "8", env=http_transport_env(catalog.url)
    )

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    events = [e for e in catalog.received() if e["job"]["name"] == "orders-test.quarantine_replay"]
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "RUNNING", "RUNNING", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {summary["run_id"]}
    for event in events:
        assert event_errors(event) == [], event
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [("file", str(lake / "orders__quarantine"))]
        assert [(o["namespace"], o["name"]) for o in event["outputs"]] == [("file", str(lake / "orders"))]
    loads = [e["run"]["facets"]["streamproc_load"] for e in events[1:-1]]
    assert {l["closeReason"] for l in loads} == {"replay"} and {l["contract"]["version"] for l in loads} == {"2"}
    (table,) = summary["tables"]
    assert [l["loadId"] for l in loads] == [l["load_id"] for l in table["loads"]]
    assert sum(l["rowsLanded"] for l in loads) == 16

    runs = catalog.get("/api/v1/namespaces/streamproc/jobs/orders-test.quarantine_replay/runs")["runs"]
    assert [(r["id"], r["state"]) for r in runs] == [(summary["run_id"], "COMPLETED")]
    graph = catalog.get("/api/v1/catalog/lineage", dataset="orders", direction="up", depth=1)
    job = "job:streamproc:orders-test.quarantine_replay"
    assert {"origin": f"dataset:file:{lake / 'orders__quarantine'}", "destination": job} in graph["edges"]
    assert {"origin": job, "destination": f"dataset:file:{lake / 'orders'}"} in graph["edges"]

    # rebuilt from the lake, the replay is the same run of the same job
    backfill = streamproc("lineage", "backfill", str(config), "--dry-run", env={})
    assert backfill.returncode == 0, backfill.stderr
    rebuilt = [json.loads(line) for line in backfill.stdout.splitlines()]
    replayed = [e for e in rebuilt if e["job"]["name"] == "orders-test.quarantine_replay"]
    assert [e["eventType"] for e in replayed] == ["START", "RUNNING", "RUNNING", "RUNNING"]
    assert [e["run"]["facets"]["streamproc_load"]["loadId"] for e in replayed[1:]] == [l["loadId"] for l in loads]
    assert all(event_errors(e) == [] for e in replayed)
    assert {e["inputs"][0]["name"] for e in replayed} == {str(lake / "orders__quarantine")}
