"""Contestant 3: aiokafka consume-only on the same topic: the ceiling for any Python Kafka consumer.

A fresh consumer group subscribes (as streamproc does), with the same fetch size (``max_records`` 10,000) and
otherwise aiokafka's defaults, which the sweep in bench/analysis.md found as fast as any tuning; every record's
value is touched, nothing is validated or landed. Timed from the partition assignment to the last record of the end
offsets seen at assignment. ``spec`` may pass ``consumer`` (AIOKafkaConsumer keyword arguments) to try others.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from bench.contestants import Clock, clock, since

__all__ = ["run"]


class _Assigned(ConsumerRebalanceListener):
    def __init__(self) -> None:
        self.at: Clock | None = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned and self.at is None:
            self.at = clock()


async def _consume(bootstrap: str, topic: str, overrides: dict[str, Any]) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-consume-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=10_000,
        **overrides,
    )
    listener = _Assigned()
    await consumer.start()
    try:
        consumer.subscribe([topic], listener=listener)
        ends: dict[TopicPartition, int] | None = None
        reached: dict[TopicPartition, int] = {}
        events = size = 0
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, messages in batches.items():
                events += len(messages)
                size += sum(len(m.value) for m in messages if m.value is not None)
                reached[tp] = messages[-1].offset + 1
            if ends is None and consumer.assignment():
                ends = await consumer.end_offsets(list(consumer.assignment()))
            if ends is not None and all(reached.get(tp, 0) >= end for tp, end in ends.items()):
                work = since(listener.at) if listener.at is not None else None
                break
    finally:
        await consumer.stop()
    if work is None:
        raise RuntimeError("never assigned a partition")
    return {"events": events, "bytes": size, **work, "tables": {}}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    kafka = spec["kafka"]
    return anyio.run(_consume, kafka["bootstrap_servers"], kafka["topic"], spec.get("consumer", {}))
