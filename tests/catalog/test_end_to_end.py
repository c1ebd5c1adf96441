"""The real openlineage-python HTTP transport posts a streamproc-like run to a real uvicorn server; the query API and
the CLI (remote and local) answer lineage, schema history, PII, loads and search. Against SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from catalog.cli import catalog
from tests.catalog import scenario
from tests.catalog.conftest import Server
from tests.fixtures.pipelines import run_cli

TABLE_ID = "dataset:file:/lake/flights"
TOPIC_ID = f"dataset:{scenario.KAFKA_NS}:{scenario.TOPIC}"
JOB_ID = f"job:{scenario.JOB_NS}:{scenario.JOB}"


@pytest.fixture
def loaded(loaded_server: tuple[Server, str]) -> tuple[Server, str]:
    """The scenario, posted once per module and backend (the tests only read, or re-send the same events)."""
    return loaded_server


def _get(server: Server, path: str, **params: object) -> dict:
    response = httpx.get(
        f"{server.url}/api/v1/catalog/{path}", params=params, headers={"Authorization": f"Bearer {server.token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _cli(server: Server, *args: str, remote: bool = True) -> str:
    base = ["--url", server.url, "--token", server.token] if remote else ["--database-url", server.database_url]
    result = CliRunner().invoke(catalog, [*base, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_lineage_topic_to_table(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    up = _get(server, "lineage", dataset="flights", depth=1, direction="up")
    assert up["root"] == TABLE_ID
    assert {(e["origin"], e["destination"]) for e in up["edges"]} == {(TOPIC_ID, JOB_ID), (JOB_ID, TABLE_ID)}
    down = _get(server, "lineage", dataset=TOPIC_ID, depth=1, direction="down")
    assert {n["id"] for n in down["nodes"]} == {TOPIC_ID, JOB_ID, TABLE_ID, "dataset:file:/lake/flights__quarantine"}
    from_job = _get(server, "lineage", dataset=JOB_ID, depth=1)
    assert {n["type"] for n in from_job["nodes"]} == {"JOB", "DATASET"}


def test_column_lineage(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    col = _get(server, "column-lineage", dataset="flights", field="passenger_email")
    assert col["edges"] == [
        {
            "origin": f"datasetField:{scenario.KAFKA_NS}:{scenario.TOPIC}:passenger_email",
            "destination": "datasetField:file:/lake/flights:passenger_email",
            "transformationType": "DIRECT",
            "transformationDescription": None,
        }
    ]


def test_schema_history_shows_added_column(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    history = _get(server, "schema-history", dataset="flights")["versions"]
    assert len(history) == 2
    first, second = history
    assert first["diff"] is None and first["contract"]["version"] == "1" and first["datasetVersion"] == "0"
    assert first["createdAt"] == "2025-01-01T12:00:00Z"  # event time of the START that first showed it
    assert second["datasetVersion"] == "1" and second["contract"] == {
        "name": "flights",
        "version": "2",
        "hash": "sha256:2sha256:2",
    }
    assert second["diff"] == {
        "added": [{"name": "tail_number", "type": "string"}],
        "removed": [],
        "typeChanged": [],
        "breaking": False,
    }
    assert {f["name"]: f["tags"] for f in second["fields"]}["passenger_email"] == ["email"]


def test_pii_inventory_by_tag(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    everything = _get(server, "pii")["items"]
    assert {(i["dataset"], i["field"], i["tag"]) for i in everything} == {
        ("/lake/flights", None, "pii"),
        ("/lake/flights", "passenger_email", "email"),
        ("/lake/flights", "passenger_name", "name"),
        ("/lake/flights", "origin_ip", "ip"),
    }
    emails = _get(server, "pii", tag="email")["items"]
    assert [(i["field"], i["type"], i["description"]) for i in emails] == [
        ("passenger_email", "string", "PII: e-mail address")
    ]


def test_loads_and_reverse_offset_lookup(loaded: tuple[Server, str]) -> None:
    server, run_id = loaded
    loads = _get(server, "loads", dataset="flights")["loads"]
    assert [(x["loadId"], x["deltaVersion"], x["contract"]["version"], x["rowsLanded"]) for x in loads] == [
        ("load-0001", 1, "2", 99),
        ("load-0000", 0, "1", 149),
    ]
    assert loads[1]["offsets"] == [
        {"topic": scenario.TOPIC, "partition": 0, "first": 0, "last": 99},
        {"topic": scenario.TOPIC, "partition": 1, "first": 0, "last": 49},
    ]
    assert {x["runId"] for x in loads} == {run_id} and loads[0]["runState"] == "COMPLETE"
    hit = _get(server, "loads", topic=scenario.TOPIC, partition=0, offset=150)["loads"]
    assert [(x["loadId"], x["deltaVersion"]) for x in hit] == [("load-0001", 1)]
    assert _get(server, "loads", topic=scenario.TOPIC, partition=1, offset=50)["loads"] == []


def test_resent_events_change_nothing(loaded: tuple[Server, str]) -> None:
    server, run_id = loaded
    scenario.emit_all(server.url, server.token, run_id=run_id)  # the runtime's outbox re-sends after an outage
    assert len(_get(server, "loads", dataset="flights")["loads"]) == 2
    assert len(_get(server, "schema-history", dataset="flights")["versions"]) == 2


def test_search(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    results = _get(server, "search", q="FLIGHTS")["results"]
    assert {r["id"] for r in results} == {TABLE_ID, TOPIC_ID, JOB_ID, "dataset:file:/lake/flights__quarantine"}


def test_cli_remote_and_local(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    lineage = json.loads(_cli(server, "lineage", "flights", "--direction", "up", "--depth", "1", "--json"))
    assert TOPIC_ID in {n["id"] for n in lineage["nodes"]}
    table = _cli(server, "schema-history", "flights")
    assert "tail_number" in table and "flights v2" in table
    assert "passenger_email" in _cli(server, "pii", "--tag", "email")
    reverse = json.loads(
        _cli(server, "loads", "--topic", scenario.TOPIC, "--partition", "1", "--offset", "7", "--json")
    )
    assert [x["deltaVersion"] for x in reverse["loads"]] == [0]
    assert "load-0000" in _cli(server, "loads", "flights", remote=False)
    assert "flights-ingest" in _cli(server, "search", "ingest", remote=False)
    assert "passenger_email" in _cli(server, "column-lineage", "flights", "passenger_email", remote=False)


def test_cli_errors_are_clear(loaded: tuple[Server, str]) -> None:
    server, _ = loaded
    runner = CliRunner()
    wrong = runner.invoke(catalog, ["--url", server.url, "--token", "nope", "pii"])
    assert wrong.exit_code == 1 and "401" in wrong.output
    missing = runner.invoke(catalog, ["--url", server.url, "--token", server.token, "schema-history", "nope"])
    assert missing.exit_code == 1 and "no dataset named 'nope'" in missing.output
    usage = runner.invoke(catalog, ["--url", server.url, "loads", "--topic", "t"])
    assert usage.exit_code == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_schema_history_is_in_event_time_order_when_older_events_arrive_late(server: Server) -> None:
    # `streamproc lineage backfill` re-sends the runs a catalog missed after newer events arrived: the history must
    # not read as v2 → v1, "BREAKING: -tail_number", for a column that was added
    start, first_load, second_load, complete = scenario.events()
    ol = scenario.client(server.url, server.token)
    for event in (second_load, complete, start, first_load):
        ol.emit(event)

    history = _get(server, "schema-history", dataset="flights")["versions"]

    assert [v["datasetVersion"] for v in history] == ["0", "1"]
    assert history[1]["diff"]["added"] == [{"name": "tail_number", "type": "string"}]
    assert history[1]["diff"]["breaking"] is False


def test_remote_cli_prints_answers_not_a_log_line_per_request(loaded: tuple[Server, str]) -> None:
    # The real `streamproc` command, whose root logger is at INFO: httpx logged "HTTP Request: GET ... 200 OK" on
    # stderr before every answer, and a failed query's error came after a line saying the request was made.
    server, _ = loaded
    result = run_cli("catalog", "--url", server.url, "--token", server.token, "search", "flights")
    assert result.returncode == 0, result.stderr
    assert "flights" in result.stdout
    assert "HTTP Request" not in result.stderr, result.stderr

    missing = run_cli("catalog", "--url", server.url, "--token", server.token, "lineage", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: catalog answered 404: no dataset named 'nope' (try `search`)"


def test_cli_tables_that_find_nothing_say_so(loaded: tuple[Server, str]) -> None:
    # an empty titled grid ("Search 'zzz'" over an empty header) read as a rendering fault, not as "nothing"
    server, _ = loaded
    assert _cli(server, "search", "zzz").strip() == "no dataset or job name contains 'zzz'"
    assert _cli(server, "pii", "--tag", "nosuch").strip() == "no dataset or column has a tag matching 'nosuch'"
    nothing = _cli(server, "loads", "--topic", scenario.TOPIC, "--partition", "1", "--offset", "50")
    assert nothing.strip() == f"no load read {scenario.TOPIC}[1]@50"
    found = _cli(server, "loads", "--topic", scenario.TOPIC, "--partition", "0", "--offset", "150")
    assert "load-0001" in found and "quarantined it" in found  # a load's offsets are what it read, not only landed
