"""Both Kafka clients hand the pipeline the same :class:`RecordChunk` columns for the same records: offsets, values,
keys, timestamps and headers, a chunk per run of one partition, across two topics. The real broker, each source as
the pipeline starts it."""

from __future__ import annotations

import uuid

import anyio
import pytest
from aiokafka import AIOKafkaProducer

from streamproc.config import KafkaSourceConfig
from streamproc.records import SourceRecord
from streamproc.sources.kafka.admin import ensure_topic
from tests.fixtures.kafka_source import read_chunks

pytestmark = pytest.mark.kafka

_TIMESTAMP_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


async def _produce(bootstrap: str, topics: list[str]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = []
        for topic in topics:
            for i in range(30):
                sent.append(await producer.send(
                    topic, b'{"n": %d}' % i if i != 7 else None, partition=i % 2,
                    key=b"k%d" % i if i % 3 else None, timestamp_ms=_TIMESTAMP_MS + i,
                    headers=[("contract-version", b"2"), ("trace", b"%d" % i)] if i % 5 == 0 else None,
                ))
        for future in sent:
            await future
        return len(sent)
    finally:
        await producer.stop()


async def _records(bootstrap: str, topics: list[str], client: str, expected: int) -> list[SourceRecord]:
    config = KafkaSourceConfig(bootstrap_servers=bootstrap, topics=tuple(topics),
                               consumer_group=f"chunks-{uuid.uuid4().hex[:8]}", client=client)
    chunks = await read_chunks(config, wanted=expected)
    for chunk in chunks:  # one partition per chunk, ascending offsets
        assert list(chunk.offsets) == sorted(chunk.offsets)
    return sorted((r for c in chunks for r in c), key=lambda r: (r.topic, r.partition, r.offset))


def test_both_clients_return_the_same_records_column_by_column(kafka_bootstrap: str) -> None:
    topics = [f"chunks-a-{uuid.uuid4().hex[:8]}", f"chunks-b-{uuid.uuid4().hex[:8]}"]

    async def scenario() -> dict[str, list[SourceRecord]]:
        for topic in topics:
            await ensure_topic(kafka_bootstrap, topic, partitions=2)
        expected = await _produce(kafka_bootstrap, topics)
        return {client: await _records(kafka_bootstrap, topics, client, expected)
                for client in ("aiokafka", "confluent-kafka")}

    by_client = anyio.run(scenario)

    aiokafka, confluent = by_client["aiokafka"], by_client["confluent-kafka"]
    assert len(confluent) == 60
    assert [_comparable(r) for r in confluent] == [_comparable(r) for r in aiokafka]
    tombstone = next(r for r in confluent if r.topic == topics[0] and r.value is None)
    assert tombstone.partition == 1 and tombstone.key == b"k7"
    with_headers = [r for r in confluent if r.headers]
    assert len(with_headers) == 12
    assert all(r.headers[0] == ("contract-version", b"2") for r in with_headers)
    assert {r.timestamp_ms for r in confluent} == {_TIMESTAMP_MS + i for i in range(30)}


def _comparable(record: SourceRecord) -> tuple[object, ...]:
    return (record.topic, record.partition, record.offset, record.value, record.key, record.timestamp_ms,
            tuple(record.headers))
