"""Backpressure: a backlog far larger than memory lands with a bounded peak RSS.

Stages are joined by bounded streams (``batch.queue_size`` fetched chunks of at most ``source.fetch_max_records``
records) and a micro-batch holds at most ``batch.max_rows`` events, so the consumer's memory depends on those
settings and the event size, never on the backlog. With the defaults (20,000-row batches, at most three of them
alive: one filling, one being validated, one being committed; 2 fetched chunks of 10,000 records) and ~160-byte
events, peak RSS measured ~300 MB for 0.3 M events and ~336 MB for 2 M on the 2-core dev machine (docs/exactly-once.md,
"Bounded memory"; the CLI with its metrics endpoint); :data:`PEAK_RSS_BOUND_MB` is the documented bound.

CI consumes a 300,000-event backlog; ``make chaos`` (``STREAMPROC_CHAOS=1``) 2,000,000.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from deltalake import DeltaTable

from streamproc.sources.kafka.admin import ensure_topic
from tests.fixtures.pipelines import encode, new_topic, order, start_cli, write_pipeline

pytestmark = pytest.mark.kafka

CHAOS = os.environ.get("STREAMPROC_CHAOS") == "1"
BACKLOG = 2_000_000 if CHAOS else 300_000
PEAK_RSS_BOUND_MB = 512
"""The documented bound on a consumer's peak RSS with the default batch and queue settings and small events."""


async def _fill(bootstrap: str, topic: str, count: int, *, partitions: int) -> None:
    """Produce ``count`` valid order events, round-robin, in full producer batches (fast: ~90,000 events/s)."""
    await ensure_topic(bootstrap, topic, partitions=partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        sent = []
        for partition in range(partitions):
            batch = producer.create_batch()
            for i in range(partition, count, partitions):
                payload = encode(order(i))
                if batch.append(key=None, value=payload, timestamp=None) is None:
                    batch.close()
                    sent.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=None, value=payload, timestamp=None)
            batch.close()
            sent.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _peak_rss_mb(pid: int) -> float | None:
    """``VmHWM`` (the process's peak resident set) in MB, or ``None`` once it exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_a_large_backlog_lands_with_bounded_memory(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("backlog")
    asyncio.run(_fill(kafka_bootstrap, topic, BACKLOG, partitions=3))
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 50_000, "max_linger_seconds": 5})
    config = yaml.safe_load(files.config.read_text())
    config.update(observability={"port": 0}, maintenance={"enabled": False})
    files.config.write_text(yaml.safe_dump(config))
    log = tmp_path / "run.log"

    started = time.monotonic()
    process = start_cli("run", str(files.config), "--until-caught-up", "--json", log=log)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _peak_rss_mb(process.pid) or 0.0)
        time.sleep(0.1)
    seconds = time.monotonic() - started

    assert process.returncode == 0, log.read_text()[-3000:]
    summary = json.loads(log.read_text().strip().splitlines()[-1])
    assert summary["rows_landed"] == BACKLOG
    assert DeltaTable(str(files.table)).count() == BACKLOG
    assert 0 < peak < PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB for {BACKLOG:,} events in {seconds:.0f}s"
