"""Durable before acknowledging: a ``streamproc run`` killed with SIGKILL right after its ``200`` answers loses none of
those events; the next run lands them from the write-ahead log exactly once, and offsets are never reused."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from segment.analytics.client import Client

from tests.fixtures.http_source import WRITE_KEY, post, replay_log, serving, start_http, write_http_pipeline

READING = "tests.fixtures.segment_contracts:Reading"


def _ndjson(start: int, count: int) -> bytes:
    return b"\n".join(
        json.dumps({"sensor": f"s-{i}", "value": float(i), "at": "2026-11-21T12:00:00Z"}).encode()
        for i in range(start, start + count)
    )


def test_sigkill_right_after_200_loses_nothing(tmp_path: Path) -> None:
    # Loads close at 700 rows; the last 200 of the 3,000 wait for a ten-minute linger: at the kill, however fast the
    # landing, they are only in the log (and so is whatever was not landed yet).
    pipeline = write_http_pipeline(
        tmp_path, contract=READING, table="readings", batch={"max_rows": 700, "max_linger_seconds": 600}
    )
    served = start_http(pipeline, log=tmp_path / "run-1.log")
    client = Client(WRITE_KEY, host=served.url, sync_mode=True)  # the real SDK: returns after our 200
    for i in range(5):
        client.identify(f"user-{i}", {"email": f"u{i}@example.com", "plan": "free"})
    for start in range(0, 3_000, 300):
        response = post(served.url, "/ingest/readings", content=_ndjson(start, 300),
                        headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code == 200, response.text
    served.process.send_signal(signal.SIGKILL)  # right after the last 200: no flush, no graceful anything
    served.process.wait(timeout=30)

    landed_before = len(pipeline.rows("readings"))
    assert landed_before < 3_000  # the test means something: events were in the log only

    result = replay_log(pipeline)  # the next run lands what the log holds, then exits
    assert result.returncode == 0, result.stderr
    readings = pipeline.table("readings")
    assert sorted(readings["value"].to_pylist()) == [float(i) for i in range(3_000)]
    assert sorted(readings["_offset"].to_pylist()) == list(range(3_000))  # exactly once
    assert sorted(r["userId"] for r in pipeline.rows("identifies")) == [f"user-{i}" for i in range(5)]

    # A later run continues the offsets: new events are new, never taken for landed ones.
    with serving(pipeline, log=tmp_path / "run-2.log") as again:
        answer = post(again.url, "/ingest/readings", content=_ndjson(3_000, 10),
                      headers={"Content-Type": "application/x-ndjson"}).json()
        assert answer["offsets"] == {"partition": 0, "first": 3_000, "last": 3_009}
    assert pipeline.table("readings").num_rows == 3_010


def test_a_new_log_folder_continues_after_what_the_table_holds(tmp_path: Path) -> None:
    pipeline = write_http_pipeline(tmp_path, contract=READING, table="readings", routes={})
    with serving(pipeline, log=tmp_path / "run-1.log") as served:
        assert post(served.url, "/ingest/readings", content=_ndjson(0, 20),
                    headers={"Content-Type": "application/x-ndjson"}).status_code == 200
    assert pipeline.table("readings").num_rows == 20
    shutil.rmtree(pipeline.wal)  # e.g. a replica moved to a new volume after landing everything

    with serving(pipeline, log=tmp_path / "run-2.log") as served:
        answer = post(served.url, "/ingest/readings", content=_ndjson(20, 5),
                      headers={"Content-Type": "application/x-ndjson"}).json()
        assert (answer["offsets"]["first"], answer["offsets"]["last"]) == (20, 24)  # from the Delta log's txn
    readings = pipeline.table("readings")
    assert sorted(readings["_offset"].to_pylist()) == list(range(25))
    assert sorted(readings["value"].to_pylist()) == [float(i) for i in range(25)]
