"""What every source hands to the pipeline: records with their source coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["TopicPartition", "SourceRecord"]


class TopicPartition(NamedTuple):
    """A Kafka topic partition (or, for other sources, a stream and its shard)."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One raw event and where it came from.

    Attributes:
        topic, partition, offset: the source coordinates (for HTTP and files: stream, shard and sequence number).
        value: the raw payload bytes (a JSON object when well-formed); ``None`` for a Kafka tombstone.
        key: the record key, if any.
        timestamp_ms: the source's timestamp in milliseconds since the epoch (Kafka's record timestamp).
    """

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp_ms: int | None = None

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def size(self) -> int:
        """Payload size in bytes (what ``batch.max_bytes`` counts)."""
        return len(self.value) if self.value is not None else 0
