"""A RUNNING event summarising several loads (``streamproc_loads``, the runtime's ``emit: every_n_seconds``): every
load is stored with its Delta version and offsets, posted by the real openlineage-python HTTP transport to a real
server, against SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.catalog import scenario
from tests.catalog.conftest import Server


def _get(server: Server, path: str, **params: object) -> dict:
    response = httpx.get(
        f"{server.url}/api/v1/catalog/{path}", params=params, headers={"Authorization": f"Bearer {server.token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _emit(server: Server, run_id: str | None = None) -> str:
    events = scenario.window_events(run_id)
    ol = scenario.client(server.url, server.token)
    for event in events:
        ol.emit(event)
    return events[0].run.runId


def test_every_load_of_a_window_is_stored_with_its_version_and_offsets(server: Server) -> None:
    run_id = _emit(server)

    loads = _get(server, "loads", dataset="dataset:file:/lake/flights")["loads"]
    assert [(x["loadId"], x["deltaVersion"], x["rowsLanded"]) for x in loads] == [
        ("window-load-2", 2, 50),
        ("window-load-1", 1, 50),
        ("window-load-0", 0, 50),
    ]
    assert {x["runId"] for x in loads} == {run_id}
    assert loads[1]["offsets"] == [{"topic": scenario.TOPIC, "partition": 0, "first": 50, "last": 99}]
    # the reverse lookup finds the load in the middle of the window, not only the newest
    hit = _get(server, "loads", topic=scenario.TOPIC, partition=0, offset=75)["loads"]
    assert [(x["loadId"], x["deltaVersion"]) for x in hit] == [("window-load-1", 1)]
    # the schema's first numbered version is the window's oldest load, not the newest one the `version` facet names
    (schema,) = _get(server, "schema-history", dataset="dataset:file:/lake/flights")["versions"]
    assert schema["datasetVersion"] == "0" and schema["contract"]["version"] == "1"

    _emit(server, run_id)  # re-sent by the runtime's outbox: nothing changes
    assert len(_get(server, "loads", dataset="dataset:file:/lake/flights")["loads"]) == 3
