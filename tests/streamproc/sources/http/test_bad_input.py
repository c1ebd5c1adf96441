"""Bad input gets a clear JSON error with the right status, and nothing of a refused request is accepted: the next
accepted request's first offset is where the refused one would have started."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streamproc.config import load_config
from streamproc.sources.http.app import create_ingest_app
from streamproc.sources.http.front import Front, LogWriter
from streamproc.sources.http.targets import resolve_targets
from streamproc.sources.http.wal import WriteAheadLog
from tests.fixtures.http_source import WRITE_KEY, Served, post, serving, write_http_pipeline


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("bad-input")
    pipeline = write_http_pipeline(tmp_path)
    pipeline.document["observability"] = {"enabled": True, "host": "127.0.0.1", "port": 0}
    pipeline.config.write_text(json.dumps(pipeline.document))  # JSON is YAML
    with serving(pipeline, log=tmp_path / "run.log") as running:
        yield running


def _track(event: str = "Clicked Button", **properties: object) -> dict[str, object]:
    return {"type": "track", "userId": "u-1", "event": event, "properties": properties}


def _next_offset(served: Served, table: str, event: dict[str, object]) -> int:
    """Ingest one event into ``table`` and return its offset: proves what the log holds."""
    response = post(served.url, f"/ingest/{table}", json=event)
    assert response.status_code == 200, response.text
    return response.json()["offsets"]["first"]


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["success"], body["code"]) == (False, code)
    assert body["message"]
    return body


def test_success_is_segments_answer(served: Served) -> None:
    response = post(served.url, "/v1/batch", json={"batch": [_track()]})
    assert (response.status_code, response.json()) == (200, {"success": True})
    response = post(served.url, "/v1/identify", json={"userId": "u-1", "traits": {"email": "a@b.c", "plan": "pro"}})
    assert (response.status_code, response.json()) == (200, {"success": True})


def test_malformed_json_is_400(served: Served) -> None:
    before = _next_offset(served, "tracks", _track())
    _error(post(served.url, "/v1/batch", content=b'{"batch": [{"type": "track",'), 400, "invalid_json")
    _error(post(served.url, "/v1/track", content=b"\xff\xfe not utf-8"), 400, "invalid_json")
    ndjson = json.dumps(_track()).encode() + b"\n{oops\n"
    body = _error(post(served.url, "/ingest/tracks", content=ndjson, headers={"Content-Type": "application/x-ndjson"}),
                  400, "invalid_json")
    assert str(body["message"]).startswith("line 2 ")
    _error(post(served.url, "/ingest/tracks", json=[_track(), 7]), 400, "invalid_body")
    _error(post(served.url, "/v1/batch", json={"batch": [{"type": "purchase"}]}), 400, "invalid_type")
    _error(post(served.url, "/v1/page", json={"type": "track", "event": "x"}), 400, "invalid_type")
    _error(post(served.url, "/v1/batch", content=b"not gzip", headers={"Content-Encoding": "gzip"}),
           400, "invalid_encoding")
    assert _next_offset(served, "tracks", _track()) == before + 1  # nothing of the refused requests was logged


def test_ndjson_sent_as_json_is_told_its_content_type(served: Served) -> None:
    ndjson = json.dumps(_track()).encode() + b"\n" + json.dumps(_track()).encode() + b"\n"
    for content_type in ("application/json", "application/x-www-form-urlencoded"):  # the latter: curl -d
        body = _error(post(served.url, "/ingest/tracks", content=ndjson, headers={"Content-Type": content_type}),
                      400, "invalid_json")
        assert str(body["message"]).endswith(
            "; for NDJSON (one event per line) send Content-Type: application/x-ndjson"
        ), body
    # a JSON error of another kind gets no such hint
    body = _error(post(served.url, "/ingest/tracks", content=b'{"type": "track",'), 400, "invalid_json")
    assert "NDJSON" not in str(body["message"])


def test_a_path_or_method_not_served_is_answered_in_the_errors_json_naming_the_endpoints(served: Served) -> None:
    body = _error(post(served.url, "/v1/trak", json=_track()), 404, "not_found")
    assert body["message"] == (
        "this source does not serve POST /v1/trak: it serves POST /v1/batch, "
        "POST /v1/{track,identify,page,screen,group,alias} and POST /ingest/{contract}"
    )
    response = httpx.get(f"{served.url}/v1/track", auth=("k", ""))
    _error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_unknown_contract_is_404(served: Served) -> None:
    body = _error(post(served.url, "/ingest/no_such_contract", json={"a": 1}), 404, "unknown_contract")
    assert "identifies" in str(body["message"])
    # a target is found by its table's name or its contract's name
    assert post(served.url, "/ingest/order_completed", json={
        "type": "track", "event": "Order Completed", "messageId": "m", "timestamp": "2026-11-01T00:00:00Z",
        "receivedAt": "2026-11-01T00:00:00Z", "properties": {"order_id": "o", "revenue": 1, "currency": "EUR"},
    }).status_code == 200


def test_missing_or_wrong_write_key_is_401(served: Served) -> None:
    batch = {"batch": [_track()]}
    body = _error(post(served.url, "/v1/batch", key=None, json=batch), 401, "missing_write_key")
    assert WRITE_KEY not in json.dumps(body)
    _error(post(served.url, "/v1/batch", key="wrong", json=batch), 401, "invalid_write_key")
    _error(post(served.url, "/v1/batch", key=None, json={**batch, "writeKey": "wrong"}), 401, "invalid_write_key")
    _error(post(served.url, "/ingest/tracks", key=None, json=_track()), 401, "missing_write_key")
    _error(post(served.url, "/ingest/tracks", key="nope", json=_track()), 401, "invalid_write_key")
    response = httpx.post(f"{served.url}/v1/batch", headers={"Authorization": "Basic !!!"}, json=batch)
    _error(response, 401, "invalid_write_key")
    assert response.headers["www-authenticate"].startswith("Basic")
    # Segment also takes the key in the body; it never lands
    assert post(served.url, "/v1/batch", key=None, json={**batch, "writeKey": WRITE_KEY}).status_code == 200
    bearer = httpx.post(f"{served.url}/ingest/tracks", json=_track(), headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert bearer.status_code == 200
    assert WRITE_KEY not in served.output()  # never logged


def test_too_large_is_413(served: Served) -> None:
    before = _next_offset(served, "tracks", _track())
    big_event = _track(blob="x" * 33_000)  # Segment: 32 KB per event
    _error(post(served.url, "/v1/batch", json={"batch": [_track(), big_event]}), 413, "event_too_large")
    _error(post(served.url, "/v1/track", json=big_event), 413, "payload_too_large")
    many = {"batch": [_track(blob="y" * 20_000) for _ in range(30)]}  # 600 KB: Segment's 500 KB per batch
    _error(post(served.url, "/v1/batch", json=many), 413, "payload_too_large")
    bomb = gzip.compress(json.dumps({"batch": [_track(pad="z" * 2_000_000)]}).encode())  # 2 MB from a few KB
    assert len(bomb) < 50_000
    _error(post(served.url, "/v1/batch", content=bomb, headers={"Content-Encoding": "gzip"}), 413, "payload_too_large")
    assert _next_offset(served, "tracks", _track()) == before + 1


def test_freeze_violations_are_422_with_every_violation(served: Served) -> None:
    ok = {"type": "track", "userId": "u-2", "event": "Signed Up", "properties": {"plan": "pro"}}
    before = _next_offset(served, "signups", {**ok, "messageId": "m-0", "timestamp": "2026-11-01T00:00:00Z",
                                               "receivedAt": "2026-11-01T00:00:00Z"})
    batch = {"batch": [
        _track(),  # another contract's event: refused with the rest, the request is all or nothing
        ok,
        {**ok, "properties": {"plan": "gold", "coupon": "X"}},
        ok,
        {**ok, "properties": {"plan": "free", "referrer": 5}},
    ]}
    body = _error(post(served.url, "/v1/batch", json=batch), 422, "contract_violation")
    errors = body["errors"]
    assert [e["index"] for e in errors] == [2, 4]
    assert {(e["contract"], e["contract_version"]) for e in errors} == {("signups", 1)}
    assert sorted(v["loc"] for v in errors[0]["violations"]) == ["properties.coupon", "properties.plan"]
    assert all(v["mode"] == "freeze" for e in errors for v in e["violations"])
    assert errors[1]["violations"][0]["loc"] == "properties.referrer"
    assert _next_offset(served, "signups", {**ok, "messageId": "m-1", "timestamp": "2026-11-01T00:00:00Z",
                                            "receivedAt": "2026-11-01T00:00:00Z"}) == before + 1


def test_request_metrics_by_route_and_status(served: Served) -> None:
    post(served.url, "/v1/batch", key="wrong", json={"batch": []})
    port = re.search(r"serving /metrics, /healthz and /readyz on http://[^:]+:(\d+)", served.output())
    assert port is not None, served.output()
    text = httpx.get(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=60).text
    assert re.search(r'streamproc_http_requests_total\{method="POST",route="/v1/batch",status="401"\} [1-9]', text)
    assert 'route="/ingest/{contract}",status="200"' in text
    assert "streamproc_http_request_duration_seconds_bucket" in text
    ready = httpx.get(f"http://127.0.0.1:{port.group(1)}/readyz", timeout=60).json()
    assert ready["status"] == "ready" and ready["checks"]["accepting"]


def test_full_log_is_429_with_retry_after(tmp_path: Path) -> None:
    # Nothing lands for ten minutes (long linger), so the log's backlog only grows.
    pipeline = write_http_pipeline(tmp_path, max_unlanded_bytes=4_000, batch={"max_linger_seconds": 600})
    with serving(pipeline, log=tmp_path / "run.log") as running:
        first = post(running.url, "/v1/batch", json={"batch": [_track(n=i) for i in range(10)]})
        assert first.status_code == 200, first.text
        refused = post(running.url, "/v1/batch", json={"batch": [_track(pad="p" * 3_000)]})
        _error(refused, 429, "backpressure")
        assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.anyio
async def test_not_accepting_is_503_with_retry_after(tmp_path: Path) -> None:
    # The endpoint answers before the pipelines know their positions (and while stopping): 503, try again.
    pipeline = write_http_pipeline(tmp_path)
    config = load_config(pipeline.config)
    router = resolve_targets(config)
    wal = WriteAheadLog(pipeline.wal, segment_bytes=1 << 20)
    try:
        logs = {name: wal.stream(name, 0) for name in router.targets}
        front = Front(LogWriter(logs, max_unlanded_bytes=1 << 20, retry_after=2), retry_after=2)
        app = create_ingest_app(front, router, config.source)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            response = await client.post("/v1/batch", json={"batch": [_track()]}, auth=(WRITE_KEY, ""))
            _error(response, 503, "unavailable")
            assert response.headers["retry-after"] == "2"
            front.accepting = True
            response = await client.post("/v1/batch", json={"batch": [_track()]}, auth=(WRITE_KEY, ""))
            assert response.status_code == 200
        assert logs["tracks"].next_offset == 1
    finally:
        wal.close()
