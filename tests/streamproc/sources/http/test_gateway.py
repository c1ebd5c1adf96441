"""Gateway mode against the real broker: the endpoint produces each request's events to the targets' topics and
answers once the broker acknowledged them (acks=all); ``streamproc run`` with a Kafka source then lands them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest
from aiokafka import AIOKafkaConsumer
from segment.analytics.client import Client

from tests.fixtures.http_source import SEGMENT, WRITE_KEY, post, serving, write_http_pipeline
from tests.fixtures.pipelines import run_cli, write_pipeline
from tests.fixtures.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.kafka


async def _consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes | None, dict]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        records: list[tuple[bytes | None, dict]] = []
        with anyio.fail_after(DEADLINE_SECONDS):
            while len(records) < expected:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records += [(m.key, json.loads(m.value)) for m in batch]
        return records
    finally:
        await consumer.stop()


def test_gateway_produces_to_kafka_and_streamproc_run_lands_it(kafka_bootstrap: str, tmp_path: Path) -> None:
    prefix = f"gw-{uuid.uuid4().hex[:8]}."
    gateway = write_http_pipeline(
        tmp_path / "gateway",
        wal_dir=None,
        gateway={"bootstrap_servers": kafka_bootstrap, "topic_prefix": prefix, "partitions": 2},
    )
    errors: list[Exception] = []
    with serving(gateway, log=tmp_path / "gateway.log") as served:
        client = Client(WRITE_KEY, host=served.url, gzip=True, on_error=lambda error, batch: errors.append(error))
        for i in range(6):
            client.identify(f"user-{i}", {"email": f"u{i}@example.com", "plan": "pro"})
        client.track("user-1", "Order Completed", {"order_id": "o-1", "revenue": 10.0, "currency": "USD"})
        client.track("user-2", "Order Completed", {"order_id": "o-2", "revenue": 20.0, "currency": "GBP"})
        client.flush()
        client.join()
        ndjson = "\n".join(json.dumps({"type": "track", "event": "Clicked", "messageId": f"m-{i}",
                                       "timestamp": "2026-11-21T00:00:00Z", "receivedAt": "2026-11-21T00:00:00Z"})
                           for i in range(4))
        response = post(served.url, "/ingest/tracks", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "accepted": 4, "table": "tracks"}  # Kafka holds the offsets
    assert errors == []
    assert served.process.returncode == 0, served.output()

    identifies = anyio.run(_consume_all, kafka_bootstrap, f"{prefix}identifies", 6)
    assert sorted(key for key, _ in identifies) == [f"user-{i}".encode() for i in range(6)]  # keyed by user
    assert all(event["type"] == "identify" and event["receivedAt"] for _, event in identifies)
    assert all("writeKey" not in event for _, event in identifies)
    assert len(anyio.run(_consume_all, kafka_bootstrap, f"{prefix}tracks", 4)) == 4

    # A consumer (one of a fleet) lands each topic with its contract.
    for topic, contract, count, version in (
        (f"{prefix}identifies", "Identify", 6, 2),
        (f"{prefix}order_completed", "OrderCompleted", 2, 4),
    ):
        (tmp_path / topic).mkdir()
        files = write_pipeline(tmp_path / topic, kafka_bootstrap, topic=topic, contract=f"{SEGMENT}:{contract}")
        result = run_cli("run", str(files.config), "--until-caught-up", "--json")
        assert result.returncode == 0, result.stderr
        table = files.read("table")
        assert table.num_rows == count
        assert set(table["_contract_version"].to_pylist()) == {version}
        assert set(table["_source"].to_pylist()) == {f"kafka://{kafka_bootstrap}/{topic}"}
        assert files.read("quarantine").num_rows == 0
