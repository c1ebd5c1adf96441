"""End-to-end latency, event → visible in Delta, at a fixed offered rate below saturation.

A long-running ``streamproc run`` (:mod:`bench.contestants.streamproc_serve`, its own process) consumes a new topic
with ``max_linger_seconds`` set. Once it owns its partitions, a paced aiokafka producer (``linger_ms=5``) offers
order events at ``rate`` per second for ``seconds``, each stamped with its send time (the record's CreateTime). A
watcher thread looks for each new commit file of the table's Delta log every 5 ms and notes when it appeared: the
moment a reader can see the commit. Afterwards every landed row is traced through its ``_partition`` and
``_offset`` lineage columns, in the data files each commit added, to its send time.

Latency = commit visible − event sent, on one clock (this process). Rejected events (quarantined) are not counted.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import pyarrow.parquet as pq
from aiokafka import AIOKafkaProducer

from bench.generate import DataFile, bad_order_ids
from bench.kafka import TOPIC_PARTITIONS
from bench.runner import REPO
from streamproc.replay import ensure_topic

__all__ = ["LatencyResult", "measure_latency"]

_POLL_SECONDS = 0.005


@dataclass(slots=True)
class LatencyResult:
    """The latency phase's numbers (seconds unless named otherwise)."""

    offered_rate: float
    achieved_rate: float = 0.0
    seconds: float = 0.0
    linger_seconds: float = 0.0
    events_sent: int = 0
    events_measured: int = 0
    p50: float | None = None
    p99: float | None = None
    max: float | None = None
    commits: int = 0
    peak_rss_bytes: int = 0
    failed: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _LogWatcher(threading.Thread):
    """Notes when each new commit file of a Delta log appears (``time.time()``)."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(daemon=True, name="delta-log-watcher")
        self.log_dir = log_dir
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        existing = [int(p.stem) for p in log_dir.glob("*.json") if p.stem.isdigit()] if log_dir.exists() else []
        self._next = max(existing, default=-1) + 1

    def run(self) -> None:
        while not self.stop.is_set():
            while (self.log_dir / f"{self._next:020d}.json").exists():
                self.seen[self._next] = time.time()
                self._next += 1
            time.sleep(_POLL_SECONDS)


def _added_files(log_dir: Path, version: int) -> list[dict[str, Any]]:
    actions = [json.loads(line) for line in (log_dir / f"{version:020d}.json").read_text().splitlines() if line]
    return [a["add"] for a in actions if "add" in a]


def _landed_rows(log_dir: Path, versions: list[int]) -> int:
    return sum(json.loads(add.get("stats") or "{}").get("numRecords", 0)
               for v in versions for add in _added_files(log_dir, v))


async def _produce(
    bootstrap: str, topic: str, payloads: list[bytes], *, rate: float, seconds: float
) -> tuple[dict[tuple[int, int], float], int, float]:
    """Send at ``rate``/s for ``seconds``; returns (partition, offset) → send time, events sent, seconds taken."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    pending: list[tuple[asyncio.Future[Any], float, int]] = []
    sent = 0
    try:
        started = time.time()
        while (elapsed := time.time() - started) < seconds:
            now = time.time()
            for _ in range(int(rate * elapsed) + 1 - sent):
                future = await producer.send(topic, payloads[sent % len(payloads)], timestamp_ms=int(now * 1000))
                pending.append((future, now, sent))
                sent += 1
            await asyncio.sleep(0.002)
        took = time.time() - started
        sent_at: dict[tuple[int, int], float] = {}
        for future, at, _ in pending:
            metadata = await future
            sent_at[(metadata.partition, metadata.offset)] = at
    finally:
        await producer.stop()
    return sent_at, sent, took


def measure_latency(
    *,
    bootstrap: str,
    data: DataFile,
    rate: float,
    seconds: float,
    linger_seconds: float,
    batch_rows: int,
    workdir: Path,
    python: str,
) -> LatencyResult:
    """Run the latency phase once (see the module docstring). ``data`` must be the orders file."""
    result = LatencyResult(offered_rate=rate, seconds=seconds, linger_seconds=linger_seconds)
    topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
    anyio.run(lambda: ensure_topic(bootstrap, topic, partitions=TOPIC_PARTITIONS))
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready"
    spec = {"data": data.as_dict(), "workdir": str(workdir), "batch_rows": batch_rows, "linger_seconds":
            linger_seconds, "ready_file": str(ready), "kafka": {"bootstrap_servers": bootstrap, "topic": topic}}
    (workdir / "spec.json").write_text(json.dumps(spec))
    worker = subprocess.Popen(  # noqa: S603 - our own worker module
        [python, "-m", "bench.worker", "streamproc_serve", str(workdir / "spec.json")],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    watcher: _LogWatcher | None = None
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                result.failed = "the pipeline did not get its partitions: " + (worker.stderr.read() or "")[-500:]
                return result
            time.sleep(0.05)
        log_dir = workdir / "lake" / data.name / "_delta_log"
        watcher = _LogWatcher(log_dir)
        watcher.start()
        lines = data.path.read_bytes().splitlines()
        payloads = lines[: max(int(rate * seconds) + 1, 1)]
        sent_at, result.events_sent, took = anyio.run(
            lambda: _produce(bootstrap, topic, payloads, rate=rate, seconds=seconds)
        )
        result.achieved_rate = result.events_sent / took
        bad = set().union(*bad_order_ids(data.events, seed=data.seed or 0))
        # Payload i is order_id i + 1; the pipeline lands the valid ones.
        expected = sum(1 for i in range(result.events_sent) if (i % len(payloads)) + 1 not in bad)
        deadline = time.monotonic() + 3 * linger_seconds + 60
        while _landed_rows(log_dir, sorted(watcher.seen)) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if watcher is not None:
            watcher.stop.set()
            watcher.join()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        try:
            out, err = worker.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()
    try:
        result.peak_rss_bytes = json.loads(out.strip().splitlines()[-1]).get("peak_rss_bytes", 0)
    except (IndexError, ValueError):
        result.failed = f"the pipeline exited with {worker.returncode}: {err[-500:]}"
    latencies: list[float] = []
    table_dir = log_dir.parent
    for version, visible in sorted(watcher.seen.items()):
        added = _added_files(log_dir, version)
        result.commits += bool(added)
        for add in added:
            rows = pq.read_table(table_dir / unquote(add["path"]), columns=["_partition", "_offset"])
            for partition, offset in zip(rows["_partition"].to_pylist(), rows["_offset"].to_pylist(), strict=True):
                if (partition, offset) in sent_at:
                    latencies.append(visible - sent_at[(partition, offset)])
    result.events_measured = len(latencies)
    if len(latencies) >= 2:
        result.p50 = statistics.median(latencies)
        result.p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
        result.max = max(latencies)
    if result.events_measured < expected and result.failed is None:
        result.failed = f"only {result.events_measured:,} of {expected:,} valid events landed in time"
    return result
