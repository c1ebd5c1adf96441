"""What every source hands to the pipeline: records with their source coordinates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = ["TopicPartition", "SourceRecord", "Source", "OnAssigned", "OnRevoked"]


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
        headers: the record's headers as ``(key, value)`` pairs, in order (Kafka record headers; e.g.
            ``contract-version``, which upcasting reads).
    """

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def size(self) -> int:
        """Payload size in bytes (what ``batch.max_bytes`` counts)."""
        return len(self.value) if self.value is not None else 0


OnAssigned = Callable[[set[TopicPartition]], Awaitable[dict[TopicPartition, int | None]]]
"""Called with newly assigned partitions; returns the offset each must resume from (``None``: not known)."""
OnRevoked = Callable[[set[TopicPartition]], Awaitable[None]]
"""Called with revoked partitions before they move; must finish any in-flight load of them."""


@runtime_checkable
class Source(Protocol):
    """What the pipeline needs of a source (Kafka, file, HTTP write-ahead log).

    Lifecycle: :meth:`start` once → :meth:`fetch` / :meth:`commit` → :meth:`stop`; never used after stop.
    Offsets are per (topic, partition) and ascending; :meth:`commit` is called only after the records up to those
    offsets are durable in the lake, so a source may then forget them (acknowledge, delete a log segment).
    """

    @property
    def source_uris(self) -> dict[str, str]:
        """topic → the ``_source`` lineage value (OpenLineage dataset namespace + name as one URI)."""
        ...

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None: ...

    async def fetch(self, *, timeout_seconds: float) -> list[SourceRecord]: ...

    def assignment(self) -> set[TopicPartition]: ...

    async def position(self, tp: TopicPartition) -> int: ...

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    async def stop(self) -> None: ...
