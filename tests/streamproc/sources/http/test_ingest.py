"""Generic ingestion (``POST /ingest/{contract}``): NDJSON, a JSON array or one object, landed through the
write-ahead log into the contract's table; under ``discard_row`` a bad event is quarantined and the request
still succeeds."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import anyio
import httpx
import pyarrow.compute as pc

from tests.fixtures.http_source import WRITE_KEY, post, serving, write_http_pipeline

READING = "tests.fixtures.segment_contracts:Reading"


def _reading(i: int) -> dict[str, object]:
    return {"sensor": f"s-{i % 17}", "value": i * 0.5, "at": f"2026-11-{1 + i % 28:02d}T10:00:00Z"}


def test_100k_ndjson_events_land_exactly_once(tmp_path: Path) -> None:
    pipeline = write_http_pipeline(tmp_path, contract=READING, table="readings", routes={},
                                   batch={"max_rows": 50_000, "max_linger_seconds": 1.0})
    total, per_request = 100_000, 25_000
    with serving(pipeline, log=tmp_path / "run.log") as served:
        offsets = []
        for start in range(0, total, per_request):
            body = b"\n".join(json.dumps(_reading(i)).encode() for i in range(start, start + per_request)) + b"\n"
            headers = {"Content-Type": "application/x-ndjson"}
            if start % (2 * per_request):  # every other request gzipped
                body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
            response = post(served.url, "/ingest/readings", content=body, headers=headers)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert (answer["success"], answer["accepted"], answer["table"]) == (True, per_request, "readings")
            offsets.append((answer["offsets"]["first"], answer["offsets"]["last"]))
    assert offsets == [(s, s + per_request - 1) for s in range(0, total, per_request)]

    table = pipeline.table("readings")
    assert table.num_rows == total
    assert sorted(table["_offset"].to_pylist()) == list(range(total))  # each offset once: exactly once
    assert pc.sum(table["value"]).as_py() == sum(i * 0.5 for i in range(total))
    assert set(table["_source"].to_pylist()) == {f"{served.url}/readings"}
    assert pipeline.rows("readings__quarantine") == []
    # landed segments of the log are released: what remains is the active segment
    assert len(list((pipeline.wal / "readings-0").glob("*.wal"))) == 1


def test_json_array_and_object_and_quarantine_under_discard_row(tmp_path: Path) -> None:
    pipeline = write_http_pipeline(tmp_path, contract=READING, table="readings", routes={})
    with serving(pipeline, log=tmp_path / "run.log") as served:
        array = [_reading(0), {"sensor": "s-x", "value": "hot", "at": "2026-11-01T00:00:00Z"}, _reading(2)]
        assert post(served.url, "/ingest/readings", json=array).json()["accepted"] == 3
        assert post(served.url, "/ingest/readings", json=_reading(3)).json()["accepted"] == 1
        assert post(served.url, "/ingest/readings", json=[_reading(4)]).status_code == 200
    assert sorted(r["value"] for r in pipeline.rows("readings")) == [0.0, 1.0, 1.5, 2.0]
    (bad,) = pipeline.rows("readings__quarantine")
    assert (bad["_offset"], bad["disposition"]) == (1, "row_discarded")
    assert json.loads(bad["raw_text"])["value"] == "hot"
    assert bad["violations"][0]["loc"] == "value"


def test_concurrent_requests_get_contiguous_offsets_and_all_land(tmp_path: Path) -> None:
    pipeline = write_http_pipeline(tmp_path, contract=READING, table="readings", routes={})
    clients, requests, per_request = 8, 25, 4

    async def send(url: str, client_number: int, spans: list[tuple[int, int]]) -> None:
        async with httpx.AsyncClient(base_url=url, auth=(WRITE_KEY, ""), timeout=60) as client:
            for r in range(requests):
                start = (client_number * requests + r) * per_request
                events = [_reading(i) for i in range(start, start + per_request)]
                response = await client.post("/ingest/readings", json=events)
                assert response.status_code == 200, response.text
                spans.append((response.json()["offsets"]["first"], response.json()["offsets"]["last"]))

    async def main(url: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        async with anyio.create_task_group() as tg:
            for n in range(clients):
                tg.start_soon(send, url, n, spans)
        return spans

    with serving(pipeline, log=tmp_path / "run.log") as served:
        spans = anyio.run(main, served.url)
    total = clients * requests * per_request
    # each request got its own contiguous range; together they cover every offset once (group commit shares fsyncs)
    assert sorted(o for first, last in spans for o in range(first, last + 1)) == list(range(total))
    assert all(last - first == per_request - 1 for first, last in spans)
    table = pipeline.table("readings")
    assert sorted(table["value"].to_pylist()) == [i * 0.5 for i in range(total)]
    assert sorted(table["_offset"].to_pylist()) == list(range(total))


def test_ingest_to_a_segment_contract_completes_the_segment_fields_or_refuses(tmp_path: Path) -> None:
    """``/ingest/{contract}`` to a Segment-spec contract completes ``type``, ``messageId``, ``receivedAt`` and
    ``timestamp`` as the Tracking API does; an event it cannot complete (no call type for the catch-all contract, a
    call of another type) is refused with 400, so nothing is answered ``accepted`` and then quarantined."""
    pipeline = write_http_pipeline(tmp_path)
    orders = [{"userId": f"user-{i}", "event": "Order Completed",
               "properties": {"order_id": f"o-{i}", "revenue": 10.0 + i, "currency": "EUR"}} for i in range(3)]
    orders[2].update(messageId="msg-2", timestamp="2026-11-01T10:00:00Z")
    with serving(pipeline, log=tmp_path / "run.log") as served:
        accepted = post(served.url, "/ingest/order_completed", json=orders)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["accepted"] == 3
        screen = post(served.url, "/ingest/segment_events", json={"type": "screen", "userId": 7, "name": "Home"})
        assert screen.status_code == 200, screen.text

        untyped = post(served.url, "/ingest/segment_events", json={"userId": "user-1", "name": "Home"})
        assert (untyped.status_code, untyped.json()["code"]) == (400, "invalid_type"), untyped.text
        assert "type" in untyped.json()["message"]
        other = post(served.url, "/ingest/order_completed", json=[orders[0], {"type": "identify", "userId": "u"}])
        assert (other.status_code, other.json()["code"]) == (400, "invalid_type"), other.text
        assert "'identify'" in other.json()["message"] and "track" in other.json()["message"]

    rows = sorted(pipeline.rows("order_completed"), key=lambda r: r["userId"])
    assert [r["userId"] for r in rows] == ["user-0", "user-1", "user-2"]
    assert all(r["type"] == "track" and r["messageId"].startswith("api-") for r in rows[:2])
    assert rows[2]["messageId"] == "msg-2"
    assert rows[2]["timestamp"] == dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
    assert all(r["receivedAt"] is not None and r["timestamp"] is not None for r in rows)
    assert pipeline.rows("order_completed__quarantine") == []
    (home,) = pipeline.rows("segment_events")
    assert (home["type"], home["userId"], home["name"]) == ("screen", "7", "Home")
    assert pipeline.rows("segment_events__quarantine") == []
