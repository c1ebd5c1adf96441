"""The real Segment Python client (segment-analytics-python) pointed at ``streamproc run``: its calls land in the
tables of their contracts, with lineage columns and the contracts' versions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from segment.analytics.client import Client

from tests.fixtures.http_source import WRITE_KEY, serving, write_http_pipeline

LINEAGE = ("_load_id", "_ingested_at", "_source", "_partition", "_offset", "_contract_version")


def test_identify_track_and_page_land_in_their_contracts_tables(tmp_path: Path) -> None:
    pipeline = write_http_pipeline(tmp_path)
    errors: list[Exception] = []
    with serving(pipeline, log=tmp_path / "run.log") as served:
        # The SDK as an app would use it: background batching thread, gzip bodies, our host instead of Segment's.
        client = Client(WRITE_KEY, host=served.url, gzip=True, on_error=lambda error, batch: errors.append(error))
        for i in range(3):
            client.identify(f"user-{i}", {"email": f"u{i}@example.com", "plan": ("free", "pro", "enterprise")[i]})
        client.track("user-1", "Order Completed", {"order_id": "o-1", "revenue": 42.5, "currency": "EUR"},
                     message_id="msg-order-1")
        client.track("user-2", "Clicked Button", {"button": "buy", "position": 3})
        client.track(anonymous_id="anon-7", event="Order Completed",
                     properties={"order_id": "o-2", "revenue": -1, "currency": "EUR"})  # breaks revenue >= 0
        client.page("user-0", "Docs", "Getting Started", {"url": "https://example.com/docs", "path": "/docs"})
        client.screen("user-0", "Settings", "Profile")  # no route: the pipeline's own catch-all contract
        client.flush()
        client.join()
    assert errors == []
    assert served.process.returncode == 0, served.output()

    identifies = sorted(pipeline.rows("identifies"), key=lambda r: r["userId"])
    assert [r["userId"] for r in identifies] == ["user-0", "user-1", "user-2"]
    assert [r["traits"]["plan"] for r in identifies] == ["free", "pro", "enterprise"]
    assert {r["_contract_version"] for r in identifies} == {2}
    assert all(r["type"] == "identify" and r["messageId"] for r in identifies)
    assert json.loads(identifies[0]["context"])["library"]["name"] == "analytics-python"

    (order,) = pipeline.rows("order_completed")
    assert (order["messageId"], order["userId"], order["_contract_version"]) == ("msg-order-1", "user-1", 4)
    assert order["properties"] == {"order_id": "o-1", "revenue": 42.5, "currency": "EUR"}
    (refused,) = pipeline.rows("order_completed__quarantine")  # discard_row: quarantined, never dropped
    assert refused["disposition"] == "row_discarded"
    assert [v["loc"] for v in refused["violations"]] == ["properties.revenue"]
    assert json.loads(refused["raw_text"])["anonymousId"] == "anon-7"

    (click,) = pipeline.rows("tracks")
    assert (click["event"], click["_contract_version"]) == ("Clicked Button", 1)
    assert json.loads(click["properties"]) == {"button": "buy", "position": 3}

    (page,) = pipeline.rows("pages")
    assert (page["name"], page["category"], page["_contract_version"]) == ("Getting Started", "Docs", 3)
    (screen,) = pipeline.rows("segment_events")
    assert (screen["type"], screen["name"], screen["_contract_version"]) == ("screen", "Profile", 1)

    by_table = {"identifies": identifies, "order_completed": [order], "tracks": [click], "pages": [page]}
    for name, rows in by_table.items():
        for row in rows:
            assert all(row[column] is not None for column in LINEAGE), (name, row)
            assert row["_source"] == f"{served.url}/{name}"
            assert row["_partition"] == 0
            # Segment's timestamps: receivedAt from our clock, timestamp corrected for the client's skew
            assert row["receivedAt"] - row["timestamp"] < dt.timedelta(seconds=5)
            assert row["originalTimestamp"] is not None
    assert [r["_offset"] for r in identifies] == [0, 1, 2]

    loads = pipeline.rows("_loads")
    landed = {(r["table_name"], r["contract_name"], r["contract_version"]) for r in loads if r["rows_landed"]}
    assert landed >= {
        ("identifies", "identifies", 2),
        ("order_completed", "order_completed", 4),
        ("tracks", "tracks", 1),
        ("pages", "pages", 3),
        ("segment_events", "segment_events", 1),
    }
    assert {r["pipeline"] for r in loads} >= {"web", "web.identifies", "web.pages"}
    assert sum(r["rows_landed"] for r in loads) == 7 and sum(r["rows_quarantined"] for r in loads) == 1


@pytest.mark.parametrize("gzip", [False, True])
def test_sync_mode_client_returns_once_the_event_is_accepted(tmp_path: Path, gzip: bool) -> None:
    pipeline = write_http_pipeline(tmp_path)
    with serving(pipeline, log=tmp_path / "run.log") as served:
        client = Client(WRITE_KEY, host=served.url, sync_mode=True, gzip=gzip)  # raises on any non-2xx answer
        ok, message = client.track("user-9", "Clicked Button", {"button": "x"})
        assert ok
    assert [(r["userId"], r["messageId"]) for r in pipeline.rows("tracks")] == [("user-9", message["messageId"])]
