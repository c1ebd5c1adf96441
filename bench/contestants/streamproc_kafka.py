"""Contestant 2: ``streamproc run --until-caught-up`` on a Kafka topic (produced before the run) into Delta, with
``source.client: aiokafka`` (:mod:`.streamproc_kafka_confluent`: confluent-kafka, the default).

A fresh consumer group and fresh tables per run. Timed like :mod:`bench.contestants.aiokafka_consume`, consume →
land: from the group's partition assignment to the commit of the load that landed the last event (the idle fetch
after it, which only tells the run it is caught up, is not counted).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import anyio

from bench.contestants import Clock as Stamp, clock, since
from bench.contestants.streamproc_file import write_config
from streamproc.config import load_config
from streamproc.sinks.committer import LoadOutcome
from streamproc.observe.observer import PipelineObserver
from streamproc.runtime.pipeline import Pipeline
from streamproc.records import TopicPartition

__all__ = ["run", "kafka_source", "Clock"]


class Clock(PipelineObserver):
    """Times consume → land: from the first assignment to each load's commit (wall and CPU), plus the ``_loads``
    commits of the rows still waiting after the last load (their own seconds, not the idle time before them), and
    counts the events the loads covered."""

    def __init__(self) -> None:
        self.assigned_at: Stamp | None = None
        self.landed: dict[str, float] | None = None
        self.recorded_after = 0.0
        self.events = 0

    @property
    def work(self) -> dict[str, float] | None:
        if self.landed is None:
            return None
        return {**self.landed, "seconds": self.landed["seconds"] + self.recorded_after}

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        if partitions and self.assigned_at is None:
            self.assigned_at = clock()

    async def on_load(self, outcome: LoadOutcome, batch: Any) -> None:
        if len(batch) and self.assigned_at is not None:
            self.landed = since(self.assigned_at)
            self.recorded_after = 0.0
            self.events += len(batch)

    async def on_loads_recorded(self, rows: int, seconds: float) -> None:
        if self.landed is not None:
            self.recorded_after += seconds


def kafka_source(spec: dict[str, Any], group: str) -> dict[str, Any]:
    kafka = spec["kafka"]
    return {
        "type": "kafka",
        "bootstrap_servers": kafka["bootstrap_servers"],
        "topics": [kafka["topic"]],
        "consumer_group": group,
        **({"client": spec["client"]} if "client" in spec else {}),
        **({"fetch_max_records": spec["fetch_max_records"]} if "fetch_max_records" in spec else {}),
    }


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """With ``spec["client"]`` (the Kafka → Delta contestant: ``aiokafka``), else streamproc's default client."""
    spec = {"client": "aiokafka", **spec}
    config = load_config(write_config(spec, kafka_source(spec, f"bench-{uuid.uuid4().hex[:8]}")))
    timer = Clock()
    pipeline = Pipeline(config, until_caught_up=True, observers=[timer])
    started = time.perf_counter()
    summary = anyio.run(pipeline.run)
    if timer.work is None:
        raise RuntimeError("the pipeline was never assigned a partition or landed nothing")
    return {"events": timer.events, **timer.work, "run_seconds": time.perf_counter() - started, "tables": summary.tables}
