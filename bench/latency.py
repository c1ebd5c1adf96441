"""End-to-end latency, event → visible in Delta, at a fixed offered rate below saturation.

A long-running ``streamproc run`` (:mod:`bench.contestants.streamproc_serve`, its own process) consumes a new topic
with ``max_linger_seconds`` set. Once it owns its partitions, a paced producer offers order events at ``rate`` per
second for ``seconds``: every 10 ms the events due are stamped with the current time as their event timestamp
(``placed_at``, and the record's CreateTime) and sent as one pre-built batch per partition (aiokafka's
``create_batch``/``send_batch``: a few µs per event, so that the producer does not take the CPU the pipeline needs
on a small machine). A watcher thread looks for each new commit file of the table's Delta log every 5 ms and notes
when it appeared: the moment a reader can see the commit. Afterwards the ``placed_at`` of every row each commit
added is read from its data files.

Latency = commit visible − event timestamp, on one clock (this process). Rejected events (quarantined) are not
counted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
from streamproc.sources.kafka.admin import ensure_topic

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


def _stamped(payload: bytes) -> tuple[bytes, bytes] | None:
    """The payload split around its ``placed_at`` value, to stamp it with a send time; ``None`` when it has no
    well-formed one (an invalid event: sent as it is, and quarantined)."""
    head, found, rest = payload.partition(b'"placed_at":"')
    if not found or not rest[:4].isdigit():
        return None
    return head + found, rest[rest.index(b'"'):]


async def _produce(bootstrap: str, topic: str, payloads: list[bytes], *, rate: float, seconds: float) -> tuple[int, float]:
    """Send at ``rate``/s for ``seconds``, round-robin over the partitions; returns (events sent, seconds taken)."""
    templates = [_stamped(p) for p in payloads]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    pending: list[asyncio.Future[Any]] = []
    sent = 0
    try:
        partitions = sorted(await producer.partitions_for(topic))
        started = time.time()
        while (elapsed := time.time() - started) < seconds:
            now = time.time()
            stamp = dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="microseconds").encode()[:-6] + b"Z"
            batches = [producer.create_batch() for _ in partitions]
            due = int(rate * elapsed) + 1 - sent
            for i in range(sent, sent + due):
                template = templates[i % len(payloads)]
                value = payloads[i % len(payloads)] if template is None else template[0] + stamp + template[1]
                slot = i % len(partitions)
                while batches[slot].append(timestamp=int(now * 1000), key=None, value=value) is None:
                    # A full batch (the tick came late and much is due): send it, go on in a new one.
                    pending.append(await producer.send_batch(batches[slot], topic, partition=partitions[slot]))
                    batches[slot] = producer.create_batch()
            sent += due
            for partition, batch in zip(partitions, batches, strict=True):
                if batch.record_count():
                    pending.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.sleep(0.01)
        took = time.time() - started
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, took


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
        result.events_sent, took = anyio.run(lambda: _produce(bootstrap, topic, payloads, rate=rate, seconds=seconds))
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
            placed = pq.read_table(table_dir / unquote(add["path"]), columns=["placed_at"])["placed_at"]
            latencies += [visible - at.timestamp() for at in placed.to_pylist()]
    result.events_measured = len(latencies)
    if len(latencies) >= 2:
        result.p50 = statistics.median(latencies)
        result.p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
        result.max = max(latencies)
    if result.events_measured < expected and result.failed is None:
        result.failed = f"only {result.events_measured:,} of {expected:,} valid events landed in time"
    return result
