"""``streamproc replay``: produce a file or dataset into a Kafka topic as JSON events, acknowledged by the broker.

The producer is confluent-kafka's (librdkafka): ``produce()`` only queues a record, and librdkafka's own threads
batch, compress and send them, so the producing thread spends ~1 µs per event instead of aiokafka's ~20 µs of
Python per ``send``. Delivery stays as strict as before: ``acks=all`` and idempotence (no duplicate and no
reordering on a retry), and the run succeeds only once every event is acknowledged.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread

from streamproc.errors import SourceError
from streamproc.sources.formats import iter_json_events
from streamproc.sources.kafka.errors import StartingBrokerAsInfo, describe_kafka_error, map_kafka_errors

__all__ = ["Compression", "PRODUCER_PROPERTIES", "ReplayResult", "replay_file"]

Compression = Literal["lz4", "zstd", "snappy", "gzip", "none"]
"""Kafka's record batch compression codecs (``compression.type``)."""

PRODUCER_PROPERTIES: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 256 * 1024,
    "sticky.partitioning.linger.ms": 0,
}
"""librdkafka producer properties of a replay: every event acknowledged by all in-sync replicas, idempotent, in
record batches of up to ~1 MB compressed with LZ4 by default (JSON shrinks ~3x), lingering up to 50 ms to fill them; up to
500,000 events or 256 MiB queued before ``produce()`` waits. An event without a key goes to a random partition, as
aiokafka's producer did (librdkafka's sticky partitioning would put a whole small file into one partition)."""

_REQUEST_TIMEOUT_SECONDS = 10.0

_PRODUCER_LOG = logging.getLogger("streamproc.ops.replay.librdkafka")
"""The producer's librdkafka log lines (a starting broker's retried coordinator warnings at INFO)."""
_PRODUCER_LOG.addFilter(StartingBrokerAsInfo())


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Events and payload bytes produced, and how long it took (seconds); with a ``key_field``, how many events were
    produced without a key (the field absent or null, or the event not a JSON object)."""

    events: int
    bytes: int
    seconds: float
    keyless: int = 0


async def replay_file(
    path: Path,
    *,
    bootstrap_servers: str,
    topic: str,
    limit: int | None = None,
    key_field: str | None = None,
    compression: Compression = "lz4",
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Produce every event of ``path`` (see :mod:`streamproc.sources.formats`) to ``topic`` with ``acks=all``,
    idempotently (:data:`PRODUCER_PROPERTIES`), in a worker thread.

    Args:
        key_field: a top-level field whose value becomes the record key (so one key stays in one partition).
        compression: the record batches' codec (``none``: uncompressed).
        progress: called (from the worker thread) with the number of events acknowledged since the last call.

    Returns:
        A :class:`ReplayResult` once every event is acknowledged by the broker.

    Raises:
        SourceUnavailableError: the broker cannot be reached.
        SourceError: the broker refused an event.
    """
    produce = functools.partial(
        _produce_file, path, bootstrap_servers=bootstrap_servers, topic=topic, limit=limit, key_field=key_field,
        compression=compression, progress=progress,
    )
    return await anyio.to_thread.run_sync(produce)


def _produce_file(
    path: Path,
    *,
    bootstrap_servers: str,
    topic: str,
    limit: int | None,
    key_field: str | None,
    compression: Compression,
    progress: Callable[[int], None] | None,
) -> ReplayResult:
    from confluent_kafka import KafkaError, Message, Producer

    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:  # only failed ones: report.only.error
        if error is not None:
            failures.append(error)

    producer = Producer({
        "bootstrap.servers": bootstrap_servers,
        **PRODUCER_PROPERTIES,
        "compression.type": compression,
        "delivery.report.only.error": True,
        "on_delivery": on_delivery,
        "error_cb": lambda error: failures.append(error) if error.fatal() else None,
        "logger": _PRODUCER_LOG,
    })
    with map_kafka_errors(f"cannot reach the Kafka broker at {bootstrap_servers}"):
        producer.list_topics(topic, timeout=_REQUEST_TIMEOUT_SECONDS)
    started = time.monotonic()
    produced = size = reported = keyless = 0

    def check() -> None:
        """Raise the first failed delivery; report what was acknowledged since the last call."""
        nonlocal reported
        if failures:
            raise SourceError(
                f"producing to {topic} failed: {describe_kafka_error(failures[0])}"
                + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else "")
            )
        if progress is not None:
            acknowledged = produced - len(producer)  # len(): records queued or in flight, not yet acknowledged
            progress(acknowledged - reported)
            reported = acknowledged

    with map_kafka_errors(f"producing to {topic} failed"):
        for chunk in iter_json_events(path, limit=limit):
            for payload in chunk:
                key = None if key_field is None else _record_key(payload, key_field)
                if key_field is not None and key is None:
                    keyless += 1
                while True:
                    try:
                        producer.produce(topic, payload, key)
                        break
                    except BufferError:  # the queue is full: wait for acknowledgements
                        producer.poll(0.05)
                size += len(payload)
            produced += len(chunk)
            producer.poll(0)
            check()
        while len(producer):
            producer.flush(1.0)
            check()
    check()
    return ReplayResult(events=produced, bytes=size, seconds=time.monotonic() - started, keyless=keyless)


def _record_key(payload: bytes, key_field: str) -> bytes | None:
    """``key_field``'s value in the event ``payload`` as a record key (its ``str()``, UTF-8); ``None`` when the field
    is absent or null, and when the payload is not a JSON object: a replay passes such events through unchanged,
    keyless, for the pipeline to quarantine as malformed (reproducing bad input is what a replay is often for)."""
    try:
        event = json.loads(payload)
    except ValueError:  # malformed JSON, or bytes that are not UTF-8 (UnicodeDecodeError is a ValueError)
        return None
    if not isinstance(event, dict):
        return None
    value = event.get(key_field)
    return None if value is None else str(value).encode()
