"""Not a contestant: the latency phase's long-running ``streamproc run`` on a Kafka topic, until SIGTERM.

Writes the file ``spec["ready_file"]`` once its partitions are assigned, so the paced producer starts only then.
The batch closes on ``spec["linger_seconds"]`` (rows and bytes limits stay far away at the offered rate).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import anyio

from bench.contestants.streamproc_file import write_config
from bench.contestants.streamproc_kafka import kafka_source
from streamproc.config import load_config
from streamproc.observe.observer import PipelineObserver
from streamproc.runtime.runner import Runner
from streamproc.records import TopicPartition

__all__ = ["run"]


class _Ready(PipelineObserver):
    def __init__(self, path: Path) -> None:
        self.path = path

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        if partitions:
            self.path.write_text(str(len(partitions)))


def run(spec: dict[str, Any]) -> dict[str, Any]:
    batch = {"max_rows": spec["batch_rows"], "max_linger_seconds": spec["linger_seconds"]}
    config = load_config(write_config(spec, kafka_source(spec, f"bench-latency-{uuid.uuid4().hex[:8]}"), batch=batch))
    runner = Runner(config, observers=[_Ready(Path(spec["ready_file"]))])  # stops on SIGTERM, as `streamproc run`
    started = time.perf_counter()
    summary = anyio.run(runner.run)
    return {"events": summary.events, "seconds": time.perf_counter() - started, "tables": summary.tables}
