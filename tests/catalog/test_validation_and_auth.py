"""Invalid events get 400/422 with every violation located; missing or wrong tokens get 401; the server refuses to
start without a token unless auth is explicitly disabled."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import httpx
import pytest

from catalog.app import create_app
from catalog.config import load_settings
from catalog.errors import ConfigError
from tests.catalog.conftest import Server

FACET = {"_producer": "https://example.com/p", "_schemaURL": "https://example.com/s#/$defs/F"}


def _event(**changes: Any) -> dict[str, Any]:
    event = {
        "eventType": "START",
        "eventTime": "2025-01-01T00:00:00Z",
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "ns", "name": "job"},
        "inputs": [],
        "outputs": [{"namespace": "file", "name": "/t", "facets": {}}],
    }
    event.update(changes)
    return event


@pytest.fixture
def server(module_server: Server) -> Server:
    """These tests only add unrelated events, so they share one server per backend."""
    return module_server


def _post(
    server: Server,
    body: Any,
    *,
    token: str | None = "default",
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {server.token if token == 'default' else token}"
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{server.url}/api/v1/lineage", content=content, headers=sent)


def test_valid_run_dataset_and_job_events(server: Server) -> None:
    assert _post(server, _event()).status_code == 201
    dataset_event = {
        "eventTime": "2025-01-01T00:00:00+02:00",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {
            "namespace": "file",
            "name": "/other",
            "facets": {
                "schema": {**FACET, "fields": [{"name": "email", "type": "string"}]},
                "tags": {**FACET, "tags": [{"key": "pii", "value": "email", "field": "email"}]},
            },
        },
    }
    response = _post(server, dataset_event)
    assert response.status_code == 201 and response.json()["kind"] == "dataset"
    job_event = {
        "eventTime": "2025-01-01T00:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
        "job": {"namespace": "ns", "name": "static"},
        "inputs": [{"namespace": "file", "name": "/other"}],
        "outputs": [],
    }
    assert _post(server, job_event).json()["kind"] == "job"
    pii = httpx.get(
        f"{server.url}/api/v1/catalog/pii", params={"tag": "email"}, headers={"Authorization": f"Bearer {server.token}"}
    ).json()["items"]
    assert [(i["dataset"], i["field"], i["tag"]) for i in pii] == [("/other", "email", "pii:email")]


def test_gzip_body(server: Server) -> None:
    body = gzip.compress(json.dumps(_event()).encode())
    assert _post(server, None, raw=body, headers={"Content-Encoding": "gzip"}).status_code == 201


@pytest.mark.parametrize(("raw", "needle"), [(b"{not json", "not JSON"), (b"[1, 2]", "JSON object")])
def test_not_a_json_object_is_400(server: Server, raw: bytes, needle: str) -> None:
    response = _post(server, None, raw=raw)
    assert response.status_code == 400 and needle in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"run": {"runId": "not-a-uuid"}}, ["run", "runId"]),
        ({"eventType": "FINISHED"}, ["eventType"]),
        ({"eventTime": "2025-01-01T00:00:00"}, ["eventTime"]),  # RFC 3339 needs an offset
        ({"producer": "no scheme"}, ["producer"]),
        ({"job": {"namespace": "ns"}}, ["job", "name"]),
        (
            {"outputs": [{"namespace": "file", "name": "/t", "facets": {"custom": {"_producer": "https://p"}}}]},
            ["outputs", 0, "facets", "custom", "_schemaURL"],
        ),
        (
            {
                "outputs": [
                    {"namespace": "file", "name": "/t", "facets": {"schema": {**FACET, "fields": [{"type": "x"}]}}}
                ]
            },
            ["outputs", 0, "facets", "schema", "fields", 0, "name"],
        ),
        (
            {
                "run": {
                    "runId": str(uuid.uuid4()),
                    "facets": {"streamproc_load": {**FACET, "loadId": "l", "table": "/t"}},
                }
            },
            ["run", "facets", "streamproc_load", "contract"],
        ),
    ],
)
def test_invalid_event_is_422_with_location(server: Server, change: dict[str, Any], loc: list[Any]) -> None:
    response = _post(server, _event(**change))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_event"
    assert loc in [e["loc"] for e in body["errors"]], body["errors"]


def test_load_for_unknown_table_is_422(server: Server) -> None:
    load = {
        **FACET,
        "loadId": "l1",
        "contract": {"name": "c", "version": "1"},
        "table": "/elsewhere",
        "deltaVersion": 3,
        "rowsLanded": 1,
        "offsets": [],
    }
    two_outputs = [{"namespace": "file", "name": "/a"}, {"namespace": "file", "name": "/b"}]
    response = _post(
        server,
        _event(
            eventType="RUNNING",
            outputs=two_outputs,
            run={"runId": str(uuid.uuid4()), "facets": {"streamproc_load": load}},
        ),
    )
    assert response.status_code == 422 and "/elsewhere" in response.text


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer"])
def test_missing_or_wrong_token_is_401(server: Server, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = _post(server, _event(), token=None, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    for path in ("/api/v1/namespaces", "/api/v1/catalog/pii", "/api/v1/events/lineage"):
        assert httpx.get(server.url + path, headers=headers).status_code == 401
    assert httpx.get(server.url + "/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "kind", "message"),
    [
        ("/api/v1/catalog/lineage?dataset=x&direction=sideways", 422, "invalid_request",
         "direction: Input should be 'up', 'down' or 'both' (got 'sideways')"),
        ("/api/v1/catalog/lineage", 422, "invalid_request", "dataset: Field required"),
        ("/api/v1/catalog/loads?topic=x", 400, "bad_request",
         "give `dataset`, or all of `topic`, `partition` and `offset`"),
        ("/api/v1/nowhere", 404, "not_found", "Not Found"),
    ],
)
def test_a_bad_request_is_answered_in_the_apis_error_shape(
    server: Server, path: str, status: int, kind: str, message: str
) -> None:
    # FastAPI's own {"detail": ...} beside the catalog's {"code", "error", "message"}: two shapes to parse
    response = httpx.get(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    assert response.status_code == status
    body = response.json()
    assert (body["code"], body["error"], body["message"]) == (status, kind, message)
    if status == 422:
        assert body["errors"][0]["loc"][0] == "query"


def test_server_refuses_to_start_without_a_token(database_url: str) -> None:
    with pytest.raises(ConfigError, match="CATALOG_API_TOKEN is required"):
        create_app(load_settings(database_url=database_url, api_token="", auth_disabled=False))
    create_app(load_settings(database_url=database_url, auth_disabled=True))  # explicit opt-out works


def _metric(server: Server, line_start: str) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_events_and_requests(server: Server) -> None:
    pytest.importorskip("prometheus_client", reason="metrics are served only with prometheus-client installed")
    started = 'catalog_events_ingested_total{event_type="START",kind="run"}'
    rejected = 'catalog_events_rejected_total{status="422"}'
    before = (_metric(server, started), _metric(server, rejected))
    _post(server, _event())
    _post(server, _event(eventType="NOPE"))
    assert (_metric(server, started), _metric(server, rejected)) == (before[0] + 1, before[1] + 1)
    assert 'route="/api/v1/lineage",status="201"' in httpx.get(server.url + "/metrics").text


def test_openapi_describes_the_api(server: Server) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert {"/api/v1/lineage", "/api/v1/catalog/schema-history", "/api/v1/namespaces"} <= set(paths)
