"""``streamproc replay``: produce a file or dataset into a Kafka topic as JSON events, acknowledged by the broker."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streamproc.errors import SourceUnavailableError
from streamproc.sources.files import iter_json_events

__all__ = ["ReplayResult", "replay_file", "ensure_topic"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Events and payload bytes produced, and how long it took (seconds)."""

    events: int
    bytes: int
    seconds: float


async def ensure_topic(bootstrap_servers: str, topic: str, *, partitions: int, replication_factor: int = 1) -> bool:
    """Create ``topic`` unless it exists. Returns ``True`` when created.

    Raises:
        SourceUnavailableError: the broker cannot be reached.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise SourceUnavailableError(f"cannot reach the Kafka broker at {bootstrap_servers}: {exc}") from exc
    try:
        if topic in await admin.list_topics():
            return False
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)])
        except TopicAlreadyExistsError:
            return False
        return True
    finally:
        await admin.close()


async def replay_file(
    path: Path,
    *,
    bootstrap_servers: str,
    topic: str,
    limit: int | None = None,
    key_field: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Produce every event of ``path`` (see :mod:`streamproc.sources.files`) to ``topic`` with ``acks=all``.

    Args:
        key_field: a top-level field whose value becomes the record key (so one key stays in one partition).
        progress: called with the number of events acknowledged since the last call.

    Returns:
        A :class:`ReplayResult` once every event is acknowledged by the broker.

    Raises:
        SourceUnavailableError: the broker cannot be reached.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        raise SourceUnavailableError(f"cannot reach the Kafka broker at {bootstrap_servers}: {exc}") from exc
    started = time.monotonic()
    events = size = 0
    try:
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
