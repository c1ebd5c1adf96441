"""The quarantine's replay states in the catalog's JSON (``GET /api/v1/catalog/quarantine``), against a real lake
and a real catalog: ``streamproc run`` quarantines orders from an NDJSON file, the real ``streamproc quarantine
replay`` re-checks them twice after two contract fixes, and the lineage of both goes to ``streamproc catalog serve``
(openlineage-python's HTTP transport).

The story (``replay_shop``): v1 refuses two GBP orders, one JPY order (``literal_error``), two negative amounts
(``greater_than_equal``) and a payload that is not JSON. A replay under v2 (GBP added) of the ``literal_error``
rows lands the GBP orders and refuses the JPY one again; a replay under v3 (JPY added) of the ``literal_error`` and
``greater_than_equal`` rows lands the JPY order (its newest resolution supersedes the v2 refusal) and refuses the
amounts again. The malformed payload is never taken: it stays open.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from catalog.query.resolutions import RESOLUTION_COLUMNS, ROW_KEY, resolutions_location
from streamproc.config.contracts import SinkConfig
from streamproc.sinks.resolutions import KEY_COLUMNS, RESOLUTIONS_SCHEMA
from tests.fixtures.lineage import TOKEN, CatalogServer, http_transport_env, streamproc
from tests.fixtures.waiting import wait_until

SHOP = "tests.catalog.replay_shop"
API = "/api/v1/catalog/quarantine"
NAME = "replay-shop"


def test_the_catalog_reads_the_resolutions_table_the_runtime_writes(tmp_path: Path) -> None:
    """The catalog spells the resolutions table's location and columns as data (it never imports the runtime):
    they must stay the runtime's."""
    sink = SinkConfig(table_uri=str(tmp_path / "lake" / "orders"))
    assert resolutions_location(sink.resolved_quarantine_uri) == sink.resolved_resolutions_uri
    assert set(RESOLUTION_COLUMNS) <= set(RESOLUTIONS_SCHEMA.names)
    assert tuple(theirs for _, theirs in ROW_KEY) == KEY_COLUMNS


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[CatalogServer, Path]]:
    """A catalog, and the orders ``streamproc run`` quarantined under v1 (its lineage received)."""
    events = [
        {"order_id": 1, "amount": 10.0, "currency": "EUR"},
        {"order_id": 2, "amount": 11.0, "currency": "GBP"},
        {"order_id": 3, "amount": 12.0, "currency": "GBP"},
        {"order_id": 4, "amount": 13.0, "currency": "JPY"},
        {"order_id": 5, "amount": -1.0, "currency": "EUR"},
        {"order_id": 6, "amount": -2.0, "currency": "USD"},
    ]
    source = tmp_path / "orders.ndjson"
    source.write_text("".join(json.dumps(e) + "\n" for e in events) + "{not json\n")
    catalog = CatalogServer(tmp_path)
    try:
        catalog.start()
        result = _streamproc(tmp_path, catalog, "Order", "run", "--until-caught-up")
        assert result.returncode == 0, result.stderr[-3000:]
        _wait_for_completes(catalog, 1)
        yield catalog, tmp_path / "lake"
    finally:
        catalog.close()


def _streamproc(workdir: Path, catalog: CatalogServer, contract: str, *args: str) -> Any:
    config = workdir / f"{contract}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": NAME,
                "contract": f"{SHOP}:{contract}",
                "source": {"type": "file", "path": str(workdir / "orders.ndjson")},
                "sink": {"table_uri": str(workdir / "lake" / "orders")},
                "observability": {"enabled": False},
                "lineage": {"enabled": True, "outbox_dir": str(workdir / "outbox"), "retry_max_seconds": 1},
            }
        )
    )
    command, *options = args
    if command == "replay":
        return streamproc("quarantine", "replay", str(config), *options, env=http_transport_env(catalog.url))
    return streamproc(command, str(config), *options, env=http_transport_env(catalog.url))


def _wait_for_completes(catalog: CatalogServer, runs: int) -> None:
    wait_until(
        lambda: sum(e.get("eventType") == "COMPLETE" for e in catalog.received()) >= runs,
        f"{runs} completed run(s) in the catalog",
        watch=[catalog.process] if catalog.process is not None else [],
    )


def _by_order(quarantine: dict[str, Any]) -> dict[int | None, dict[str, Any]]:
    """The samples by ``order_id`` (``None``: the payload that is not JSON)."""
    found = {}
    for sample in quarantine["lake"]["samples"]:
        try:
            found[json.loads(sample["payload"])["order_id"]] = sample
        except ValueError:
            found[None] = sample
    return found


def test_before_any_replay_every_event_is_open(shop: tuple[CatalogServer, Path]) -> None:
    catalog, lake = shop
    answer = catalog.get(API, dataset=f"dataset:file:{lake / 'orders'}")
    assert answer["lakeError"] is None
    resolutions = answer["lake"]["resolutions"]
    assert resolutions == {
        "location": f"{lake / 'orders__quarantine'}_resolutions",
        "found": False,
        "error": None,
        "replays": [],
        "stillFailingByType": [],
    }
    assert answer["lake"]["states"] == {"open": 6, "still_failing": 0, "replayed": 0, "value_discarded": 0}
    assert {s["state"] for s in answer["lake"]["samples"]} == {"open"}
    assert all(s["resolution"] is None for s in answer["lake"]["samples"])
    assert httpx.get(f"{catalog.url}{API}", params={"dataset": "orders"}).status_code == 401  # the API wants the token


def test_replays_show_each_event_by_its_newest_resolution(shop: tuple[CatalogServer, Path]) -> None:
    catalog, lake = shop
    workdir = lake.parent
    first = _streamproc(workdir, catalog, "OrderV2", "replay", "--type", "literal_error", "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    second = _streamproc(
        workdir, catalog, "OrderV3", "replay", "--type", "literal_error", "--type", "greater_than_equal", "--json"
    )
    assert second.returncode == 0, second.stderr[-3000:]
    _wait_for_completes(catalog, 3)  # the run's and both replays': their loads are in the catalog

    # the quarantine table's ref answers as the table's does
    for ref in (f"dataset:file:{lake / 'orders'}", f"dataset:file:{lake / 'orders__quarantine'}"):
        answer = catalog.get(API, dataset=ref)
        assert answer["lake"]["rows"] == 6
        assert answer["lake"]["states"] == {"open": 1, "still_failing": 2, "replayed": 3, "value_discarded": 0}

    resolutions = answer["lake"]["resolutions"]
    assert resolutions["found"] and resolutions["error"] is None
    v3, v2 = resolutions["replays"]  # newest first; each counts the events whose newest resolution is its own
    assert (v2["contractVersion"], v2["replayed"], v2["stillFailing"]) == (2, 2, 0)  # JPY's v2 refusal superseded
    assert (v3["contractVersion"], v3["replayed"], v3["stillFailing"]) == (3, 1, 2)
    for replay in (v2, v3):
        assert replay["table"] == "orders"
        assert replay["tableId"] == f"dataset:file:{lake / 'orders'}"
        assert replay["jobId"] == f"job:streamproc:{NAME}.quarantine_replay"
    assert v2["runId"] != v3["runId"]
    assert resolutions["stillFailingByType"] == [{"type": "greater_than_equal", "count": 2}]

    samples = _by_order(answer)
    assert {k: s["state"] for k, s in samples.items()} == {
        2: "replayed",
        3: "replayed",
        4: "replayed",
        5: "still_failing",
        6: "still_failing",
        None: "open",
    }
    assert samples[None]["resolution"] is None
    jpy = samples[4]["resolution"]
    assert (jpy["status"], jpy["table"], jpy["loadId"]) == ("replayed", "orders", v3["loadId"])
    assert (jpy["contractVersion"], jpy["violations"]) == (3, [])
    assert samples[2]["resolution"]["loadId"] == v2["loadId"]
    for order in (5, 6):
        refusal = samples[order]["resolution"]
        assert (refusal["status"], refusal["contractVersion"], refusal["loadId"]) == ("still_failing", 3, v3["loadId"])
        assert [(v["loc"], v["type"]) for v in refusal["violations"]] == [("amount", "greater_than_equal")]
        # as quarantined, under v1
        assert samples[order]["contractVersion"] == 1


def test_unreadable_resolutions_are_an_error_not_a_guess(shop: tuple[CatalogServer, Path]) -> None:
    """Resolutions that exist but cannot be read leave every state unknown (not all open), and say why; the
    quarantine itself is still shown."""
    catalog, lake = shop
    log = Path(f"{lake / 'orders__quarantine'}_resolutions") / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text("not a Delta commit\n")
    answer = catalog.get(API, dataset=f"dataset:file:{lake / 'orders'}")
    assert answer["lakeError"] is None and answer["lake"]["rows"] == 6
    assert answer["lake"]["states"] is None
    assert answer["lake"]["resolutions"]["error"].startswith(f"cannot read {log.parent} from the catalog: ")
    assert {s["state"] for s in answer["lake"]["samples"]} == {None}

    with httpx.Client(base_url=catalog.url) as browser:  # the page says it too (no browser needed for text)
        assert browser.post("/login", data={"token": TOKEN}).status_code == 303  # a session cookie
        page = browser.get("/quarantine", params={"id": f"dataset:file:{lake / 'orders'}"})
    assert page.status_code == 200
    assert 'id="resolutions-error"' in page.text and 'id="no-replay"' not in page.text
    assert 'id="states"' not in page.text and "data-state=" not in page.text


def test_a_replay_adds_its_column_lineage_beside_the_pipelines(shop: tuple[CatalogServer, Path]) -> None:
    """The table is written by two jobs: the pipeline reads the file, the replay the quarantine. Each one's
    ``columnLineage`` replaced the table's whole column lineage, so after a replay ``currency`` came only from the
    quarantine's ``raw_payload``, and after the pipeline's next load only from the file."""
    catalog, lake = shop
    workdir = lake.parent
    replayed = _streamproc(workdir, catalog, "OrderV2", "replay", "--json")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    _wait_for_completes(catalog, 2)

    answer = catalog.get("/api/v1/catalog/column-lineage", dataset=f"dataset:file:{lake / 'orders'}",
                         field="currency", direction="up")

    assert {(e["origin"], e["transformationDescription"]) for e in answer["edges"]} == {
        (f"datasetField:file:{workdir / 'orders.ndjson'}:currency", None),
        (f"datasetField:file:{lake / 'orders__quarantine'}:raw_payload", "the event's JSON field 'currency'"),
    }
