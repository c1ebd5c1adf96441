"""Contestant 3b: confluent-kafka (librdkafka) consume-only on the same topic, beside aiokafka's.

A fresh consumer group subscribes, ``Consumer.consume(num_messages=10000)`` returns a list of C ``Message`` objects
(what is queued; when nothing is, the first message ``poll`` gets and what is queued with it),
every value is touched (its length summed), nothing is validated or landed; timed from the partition assignment to
the last record of the end offsets seen at assignment. librdkafka fetches and decompresses in its own threads
(outside the GIL): ``main_cpu_seconds`` is the consuming thread's share, ``cpu_seconds`` the whole process's.

Tuned as streamproc's confluent-kafka source is (:data:`streamproc.sources.kafka.confluent.FETCH_PROPERTIES`);
``spec`` may override it with ``consumer`` (librdkafka properties) and ``fetch_max_records``.
"""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from bench.contestants import Clock, clock, since

__all__ = ["run", "FETCH_PROPERTIES"]

FETCH_PROPERTIES: dict[str, Any] = {
    "fetch.wait.max.ms": 100,
    "queued.max.messages.kbytes": 16 * 1024,
    "fetch.queue.backoff.ms": 10,
    "max.partition.fetch.bytes": 4 << 20,
}
"""streamproc's (:data:`streamproc.sources.kafka.confluent.FETCH_PROPERTIES`; tests/bench checks they agree), not
imported from it: streamproc's config would add pydantic to this contestant's resident memory."""


def run(spec: dict[str, Any]) -> dict[str, Any]:
    kafka = spec["kafka"]
    at: list[Clock] = []

    def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions and not at:
            at.append(clock())

    consumer = Consumer({
        "bootstrap.servers": kafka["bootstrap_servers"],
        "group.id": f"bench-consume-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        **FETCH_PROPERTIES,
        **spec.get("consumer", {}),
    })
    batch = int(spec.get("fetch_max_records", 10_000))
    events = size = 0
    reached: dict[int, int] = {}
    ends: dict[int, int] | None = None
    try:
        consumer.subscribe([kafka["topic"]], on_assign=on_assign)
        while True:
            # As streamproc's source fetches (consume_available): what is queued, else the first message to come.
            # consume(n, timeout) alone waits the whole timeout whenever fewer than n messages are queued.
            messages = consumer.consume(num_messages=batch, timeout=0)
            if not messages:
                first = consumer.poll(0.5)
                messages = [first, *consumer.consume(num_messages=batch - 1, timeout=0)] if first is not None else []
            if messages:
                if any(map(Message.error, messages)):
                    error = next(m.error() for m in messages if m.error() is not None)
                    raise KafkaException(error)
                events += len(messages)
                size += sum(map(len, map(Message.value, messages)))
                # The next offset per partition: one call per batch, none per message.
                reached = {tp.partition: tp.offset for tp in consumer.position(consumer.assignment())}
            if ends is None and at:
                ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in consumer.assignment()}
            # A partition not consumed from yet has no position (a negative offset): at 0, an empty one is reached.
            if ends is not None and events and all(max(reached.get(p, 0), 0) >= end for p, end in ends.items()):
                work = since(at[0])
                break
    finally:
        consumer.close()
    return {"events": events, "bytes": size, **work, "tables": {}}
