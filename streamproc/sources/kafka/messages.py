"""confluent-kafka's messages as the pipeline's records: fetching what is queued without waiting for a full batch,
turning ``Message`` objects into :class:`~streamproc.records.RecordChunk` columns, and librdkafka's error events and log
lines (each distinct line once per 30 s: a broker that is down is retried every 0.1-10 s; what a broker says while it
is still starting is information, not a warning)."""

from __future__ import annotations

import itertools
import logging
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message

from streamproc.errors import SourceError
from streamproc.records import RecordChunk
from streamproc.sources.kafka.errors import REPEAT_SECONDS, OncePer, StartingBrokerAsInfo, describe_kafka_error

__all__ = ["chunks_of", "consume_available", "librdkafka_logger", "without_errors"]

logger = logging.getLogger(__name__)
librdkafka_logger = logging.getLogger("streamproc.sources.kafka.librdkafka")
"""librdkafka's own log lines, and its errors: each distinct line once per
:data:`~streamproc.sources.kafka.errors.REPEAT_SECONDS`."""

librdkafka_logger.addFilter(OncePer(REPEAT_SECONDS))
librdkafka_logger.addFilter(StartingBrokerAsInfo())


def consume_available(consumer: Consumer, most: int, timeout_seconds: float) -> list[Message]:
    """Up to ``most`` messages: those queued now, else the first to arrive within the timeout and what is queued
    with it (``[]``: none came).

    ``Consumer.consume(num_messages=n, timeout=t)`` returns only once it has ``n`` messages or ``t`` passed, so a
    partition delivering fewer than ``n`` would wait the whole timeout on every call (measured: 5,000 queued
    messages came back after the full 2 s). ``poll`` returns the first message as it arrives.
    """
    messages = consumer.consume(num_messages=most, timeout=0)
    if messages:
        return messages
    first = consumer.poll(timeout_seconds)
    if first is None:
        return []
    return [first, *consumer.consume(num_messages=most - 1, timeout=0)] if most > 1 else [first]


def chunks_of(messages: list[Message], *, many_topics: bool = False) -> list[RecordChunk]:
    """confluent-kafka messages (no errors among them) as chunks, one per run of one partition's messages, in order.

    Column by column with C-level ``map`` over the messages (no Python object per message beyond what the client
    returns): offsets, values, keys (``None`` when no message has one), timestamps in milliseconds (``None`` where
    the record has none), headers (``None`` when no message has any).
    """
    partitions: list[Any] = list(map(Message.partition, messages))
    if many_topics:
        partitions = list(zip(map(Message.topic, messages), partitions))
    else:
        topic = messages[0].topic()
    chunks = []
    start = 0
    for key, run in itertools.groupby(partitions):
        stop = start + len(list(run))
        part = messages if start == 0 and stop == len(messages) else messages[start:stop]
        topic, partition = key if many_topics else (topic, key)
        chunks.append(_chunk(topic, partition, part))
        start = stop
    return chunks


def _chunk(topic: str, partition: int, messages: list[Message]) -> RecordChunk:
    keys = list(map(Message.key, messages))
    headers = list(map(Message.headers, messages))
    return RecordChunk(
        topic,
        partition,
        list(map(Message.offset, messages)),
        list(map(Message.value, messages)),
        None if keys.count(None) == len(keys) else keys,
        [stamp if kind else None for kind, stamp in map(Message.timestamp, messages)],
        None if headers.count(None) == len(headers) else [tuple(h) if h else () for h in headers],
    )


def without_errors(messages: list[Message]) -> list[Message]:
    """The records among ``messages``; librdkafka's error events in it are logged, or raised when fatal.

    Raises:
        SourceError: a fatal error (the consumer cannot go on).
    """
    records = []
    for message in messages:
        error = message.error()
        if error is None:
            records.append(message)
            continue
        if error.fatal():
            raise SourceError(f"the Kafka consumer failed: {describe_kafka_error(error)}")
        if error.code() != KafkaError._PARTITION_EOF:
            where = f" ({message.topic()}[{message.partition()}])" if message.topic() else ""
            logger.warning("Kafka consumer: %s%s", describe_kafka_error(error), where)
    return records
