"""Marquez-compatible reads: each served endpoint answers in Marquez's shape (key fields of its openapi.yml)."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.catalog import scenario
from tests.catalog.conftest import Server

TABLE_NODE = "dataset:file:/lake/flights"


@pytest.fixture
def get(loaded_server: tuple[Server, str]):  # noqa: ANN201 - a small closure
    server, run_id = loaded_server

    def _get(path: str, **params: object) -> dict:
        response = httpx.get(
            f"{server.url}/api/v1/{path}", params=params, headers={"Authorization": f"Bearer {server.token}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    _get.run_id = run_id  # type: ignore[attr-defined]
    return _get


def test_namespaces(get) -> None:  # noqa: ANN001
    body = get("namespaces")
    assert {n["name"] for n in body["namespaces"]} == {"file", scenario.KAFKA_NS, scenario.JOB_NS}
    assert {"name", "createdAt", "updatedAt", "ownerName", "description"} <= set(body["namespaces"][0])


def test_datasets_and_dataset(get) -> None:  # noqa: ANN001
    listing = get("namespaces/file/datasets")
    assert listing["totalCount"] == 2 and {d["name"] for d in listing["datasets"]} == {
        "/lake/flights",
        "/lake/flights__quarantine",
    }
    ds = get(f"namespaces/file/datasets/{quote('/lake/flights', safe='')}")
    assert ds["id"] == {"namespace": "file", "name": "/lake/flights"}
    assert ds["type"] == "DB_TABLE" and ds["physicalName"] == "/lake/flights" and ds["sourceName"] == "file"
    assert ds["tags"] == ["pii"] and ds["description"] == "Flights, one row per departure"
    fields = {f["name"]: f for f in ds["fields"]}
    assert fields["passenger_email"] == {
        "name": "passenger_email",
        "type": "string",
        "tags": ["email"],
        "description": None,
    }
    assert "tail_number" in fields and ds["currentVersion"] and "schema" in ds["facets"]
    assert {c["name"] for c in ds["columnLineage"]} == {n for n, _, _ in scenario.V2}
    topic = get(f"namespaces/{quote(scenario.KAFKA_NS, safe='')}/datasets/{scenario.TOPIC}")
    assert topic["type"] == "STREAM"


def test_dataset_versions(get) -> None:  # noqa: ANN001
    body = get(f"namespaces/file/datasets/{quote('/lake/flights', safe='')}/versions")
    versions = body["versions"]
    assert body["totalCount"] == len(versions) == 3  # START (unnumbered), Delta 0, Delta 1
    newest = versions[0]
    assert newest["id"]["version"] == newest["version"] and newest["datasetVersion"] == "1"
    assert newest["createdByRun"]["id"] == get.run_id and newest["createdByRun"]["state"] == "COMPLETED"
    assert len(newest["fields"]) == 6 and len(versions[1]["fields"]) == 5


def test_lineage_graph(get) -> None:  # noqa: ANN001
    graph = {n["id"]: n for n in get("lineage", nodeId=TABLE_NODE, depth=1)["graph"]}
    job = f"job:{scenario.JOB_NS}:{scenario.JOB}"
    topic = f"dataset:{scenario.KAFKA_NS}:{scenario.TOPIC}"
    assert {TABLE_NODE, job, topic} <= set(graph)
    assert graph[job]["type"] == "JOB" and graph[TABLE_NODE]["type"] == "DATASET"
    assert {"origin": topic, "destination": job} in graph[job]["inEdges"]
    assert {"origin": job, "destination": TABLE_NODE} in graph[TABLE_NODE]["inEdges"]
    assert graph[job]["data"]["type"] == "STREAM"
    assert {"namespace": "file", "name": "/lake/flights"} in graph[job]["data"]["outputs"]


def test_column_lineage_graph(get) -> None:  # noqa: ANN001
    node = "datasetField:file:/lake/flights:passenger_email"
    graph = {n["id"]: n for n in get("column-lineage", nodeId=node)["graph"]}
    source = f"datasetField:{scenario.KAFKA_NS}:{scenario.TOPIC}:passenger_email"
    assert graph[node]["type"] == "DATASET_FIELD"
    assert graph[node]["data"]["inputFields"][0]["field"] == "passenger_email"
    assert graph[node]["data"]["inputFields"][0]["dataset"] == scenario.TOPIC
    assert graph[node]["inEdges"] == [{"origin": node, "destination": source}]
    whole = get("column-lineage", nodeId=TABLE_NODE)["graph"]
    assert len([n for n in whole if n["data"]["dataset"] == "/lake/flights"]) == 6


def test_jobs_and_runs(get) -> None:  # noqa: ANN001
    jobs = get(f"namespaces/{scenario.JOB_NS}/jobs")
    assert jobs["totalCount"] == 1
    job = jobs["jobs"][0]
    assert job["id"] == {"namespace": scenario.JOB_NS, "name": scenario.JOB} and job["type"] == "STREAM"
    assert job["latestRun"]["state"] == "COMPLETED" and "jobType" in job["facets"]
    runs = get(f"namespaces/{scenario.JOB_NS}/jobs/{scenario.JOB}/runs")["runs"]
    assert [r["id"] for r in runs] == [get.run_id]
    run = runs[0]
    assert run["startedAt"] == "2025-01-01T12:00:00Z" and run["endedAt"] == "2025-01-01T12:00:30Z"
    assert run["durationMs"] == 30000 and "streamproc_load" in run["facets"]
    assert run["inputDatasetVersions"][0]["datasetVersionId"]["name"] == scenario.TOPIC


def test_search(get) -> None:  # noqa: ANN001
    body = get("search", q="flights", filter="dataset")
    assert body["totalCount"] == len(body["results"]) == 3
    assert {"type", "name", "updatedAt", "namespace", "nodeId"} <= set(body["results"][0])
    assert TABLE_NODE in {r["nodeId"] for r in body["results"]}
    assert [r["type"] for r in get("search", q="ingest")["results"]] == ["JOB"]


def test_tags(get) -> None:  # noqa: ANN001
    tags = {t["name"]: t["description"] for t in get("tags")["tags"]}
    assert tags["email"] == "PII: e-mail address" and {"ip", "name", "pii"} <= set(tags)


def test_events_lineage(get) -> None:  # noqa: ANN001
    body = get("events/lineage", limit=2)
    assert body["totalCount"] == 4 and len(body["events"]) == 2
    assert body["events"][0]["eventType"] == "COMPLETE"  # newest first by default
    oldest = get("events/lineage", sortDirection="asc", limit=1)["events"][0]
    assert oldest["eventType"] == "START" and oldest["run"]["runId"] == get.run_id
    assert get("events/lineage", before="2025-01-01T12:00:05Z")["totalCount"] == 1


def test_unknown_names_are_404(module_server: Server) -> None:
    server = module_server
    headers = {"Authorization": f"Bearer {server.token}"}
    response = httpx.get(f"{server.url}/api/v1/namespaces/nope/datasets", headers=headers)
    assert response.status_code == 404 and response.json()["code"] == 404
    assert (
        httpx.get(f"{server.url}/api/v1/lineage", params={"nodeId": "dataset:x:y"}, headers=headers).status_code == 404
    )
