"""A quarantine replay's OpenLineage run, received by the real catalog (``streamproc catalog serve``) through
openlineage-python's HTTP transport: a job of its own reading the quarantine dataset and writing the table, one
RUNNING event per replay load, each event valid against the spec, describing the table as the pipeline's own load
events do (its Delta schema, not its contract's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.lineage import CatalogServer, http_transport_env, streamproc
from tests.fixtures.openlineage import event_errors
from tests.fixtures.quarantine import Lake
from tests.fixtures.waiting import wait_until


@pytest.mark.kafka
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
    # the table's columns are read out of the quarantined events' raw payload
    for event in events:
        email = event["outputs"][0]["facets"]["columnLineage"]["fields"]["email"]["inputFields"]
        assert [(i["namespace"], i["name"], i["field"]) for i in email] == [
            ("file", str(lake / "orders__quarantine"), "raw_payload")
        ], event["eventType"]
        assert email[0]["transformations"][0]["subtype"] == "TRANSFORMATION"
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
    assert all("columnLineage" in e["outputs"][0]["facets"] for e in replayed)


def test_a_replay_describes_the_table_the_pii_policy_left_as_the_pipeline_does(
    tmp_path: Path, catalog: CatalogServer
) -> None:
    """``ip`` is dropped before landing (``pii={"ip": "drop"}``): the table has no ``ip`` column. The replay's
    events must say so as the pipeline's load events do (same schema, PII tags and column lineage, when present),
    and the catalog's schema history of the table must not gain an ``ip`` column (nor lose it again: a breaking
    change) because a replay ran."""
    visits = [
        {"visit_id": 1, "email": "ann@example.com", "ip": "10.0.0.1", "country": "DE"},
        {"visit_id": 2, "email": "bob@example.com", "ip": "10.0.0.2", "country": "NL"},
        {"visit_id": 3, "email": "cy@example.com", "ip": "10.0.0.3", "country": "FR"},
        {"visit_id": 4, "email": "di@example.com", "ip": "10.0.0.4", "country": "NL"},
    ]
    source = tmp_path / "visits.ndjson"
    source.write_text("".join(json.dumps(v) + "\n" for v in visits))
    lake = tmp_path / "lake"
    table = f"dataset:file:{lake / 'visits'}"

    def config(contract: str) -> Path:
        path = tmp_path / f"{contract}.yaml"
        spec = {
            "name": "pii-visits",
            "contract": f"tests.fixtures.pii_replay_contracts:{contract}",
            "source": {"type": "file", "path": str(source)},
            "sink": {"table_uri": str(lake / "visits")},
            "observability": {"enabled": False},
            "lineage": {"enabled": True, "outbox_dir": str(tmp_path / "outbox"), "retry_max_seconds": 1},
        }
        path.write_text(yaml.safe_dump(spec))
        return path

    env = http_transport_env(catalog.url)
    ran = streamproc("run", str(config("Visit")), "--until-caught-up", env=env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    replayed = streamproc("quarantine", "replay", str(config("VisitV2")), "--json", env=env)
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert sum(load["rows_landed"] for t in json.loads(replayed.stdout)["tables"] for load in t["loads"]) == 2
    wait_until(
        lambda: sum(e["eventType"] == "COMPLETE" for e in catalog.received()) == 2,
        "the run's and the replay's COMPLETE in the catalog",
        watch=[catalog.process] if catalog.process is not None else [],
    )

    def outputs(job: str, state: str) -> list[dict[str, Any]]:
        return [
            o
            for e in catalog.received()
            if e["job"]["name"] == job and e["eventType"] == state
            for o in e["outputs"]
            if o["name"] == str(lake / "visits")
        ]

    loaded = outputs("pii-visits", "RUNNING")[-1]["facets"]
    columns = [f["name"] for f in loaded["schema"]["fields"]]
    assert "ip" not in columns and "email" in columns  # the table as the PII policy left it
    for state in ("START", "RUNNING", "COMPLETE"):
        (described,) = outputs("pii-visits.quarantine_replay", state)[-1:]
        facets = described["facets"]
        assert [f["name"] for f in facets["schema"]["fields"]] == columns, state
        assert facets["schema"] == loaded["schema"], state
        assert facets["tags"] == loaded["tags"], state
        if "columnLineage" in facets:
            assert set(facets["columnLineage"]["fields"]) <= set(columns), state

    # rebuilt from the lake, the replay describes the table the same way
    backfill = streamproc("lineage", "backfill", str(config("VisitV2")), "--dry-run", env={})
    assert backfill.returncode == 0, backfill.stderr
    rebuilt = [json.loads(line) for line in backfill.stdout.splitlines()]
    replay_outputs = [o for e in rebuilt if e["job"]["name"] == "pii-visits.quarantine_replay" for o in e["outputs"]]
    assert replay_outputs and all(o["facets"]["schema"] == loaded["schema"] for o in replay_outputs)

    # the pipeline's own events too, wherever they describe the table from its contract: its START (sent before the
    # table exists) and the events rebuilt with the contract the run used
    def named(output: dict[str, Any]) -> list[str]:
        return [f["name"] for f in output["facets"]["schema"]["fields"]]

    assert [named(o) for o in outputs("pii-visits", "START")] == [columns]
    own = streamproc("lineage", "backfill", str(config("Visit")), "--dry-run", env={})
    assert own.returncode == 0, own.stderr
    own_outputs = [
        o
        for e in map(json.loads, own.stdout.splitlines())
        if e["job"]["name"] == "pii-visits"
        for o in e["outputs"]
        if o["name"] == str(lake / "visits") and "schema" in o["facets"]
    ]
    assert own_outputs and all(named(o) == columns for o in own_outputs)

    history = catalog.get("/api/v1/catalog/schema-history", dataset=table)["versions"]
    assert all("ip" not in [f["name"] for f in v["fields"]] for v in history), history
    assert not any(v["diff"] and v["diff"]["breaking"] for v in history), history
