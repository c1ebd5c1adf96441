"""``streamproc replay``: produce a file or dataset into a Kafka topic as JSON events, acknowledged by the broker."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from streamproc.sources.formats import iter_json_events

from streamproc.sources.kafka.errors import map_kafka_errors

__all__ = ["ReplayResult", "replay_file"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Events and payload bytes produced, and how long it took (seconds)."""

    events: int
    bytes: int
    seconds: float


async def replay_file(
    path: Path,
    *,
    bootstrap_servers: str,
    topic: str,
    limit: int | None = None,
    key_field: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Produce every event of ``path`` (see :mod:`streamproc.sources.formats`) to ``topic`` with ``acks=all``.

    Args:
        key_field: a top-level field whose value becomes the record key (so one key stays in one partition).
        progress: called with the number of events acknowledged since the last call.

    Returns:
        A :class:`ReplayResult` once every event is acknowledged by the broker.

    Raises:
        SourceUnavailableError: the broker cannot be reached.
        SourceError: the broker refused an event.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    with map_kafka_errors(f"cannot reach the Kafka broker at {bootstrap_servers}"):
        await producer.start()
    started = time.monotonic()
    events = size = 0
    try:
        with map_kafka_errors(f"producing to {topic} failed"):
            for chunk in iter_json_events(path, limit=limit):
                futures = []
                for payload in chunk:
                    key = None
                    if key_field is not None:
                        value = json.loads(payload).get(key_field)
                        key = None if value is None else str(value).encode()
                    futures.append(await producer.send(topic, payload, key=key))
                    size += len(payload)
                for future in futures:
                    await future
                events += len(chunk)
                if progress is not None:
                    progress(len(chunk))
    finally:
        await producer.stop()
    return ReplayResult(events=events, bytes=size, seconds=time.monotonic() - started)
