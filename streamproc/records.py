"""The records that flow through a pipeline, with their source coordinates: a partition's chunk at a time.

Sources (:mod:`streamproc.sources`) return :class:`RecordChunk` objects (the records of one partition, column by
column) rather than one Python object per event: building a frozen dataclass per event cost more than validating
it. :class:`SourceRecord` is the one-event view, built only where a single event is looked at (quarantine rows, error
messages, tests). :class:`TopicPartition` names a partition everywhere: batches, ``txn`` app ids, ``_loads``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["RecordChunk", "SourceRecord", "TopicPartition"]


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


@dataclass(frozen=True, slots=True, eq=False)
class RecordChunk:
    """Consecutive records of one partition, column by column (what :meth:`Source.fetch` returns, one per partition).

    Every column has one entry per record, in offset order. Optional columns are ``None`` when the source has no such
    data for any record of the chunk (files have no keys; most Kafka records have no headers), so that nothing is
    looked at per record for them.

    Attributes:
        topic, partition: the source coordinates shared by the records (for HTTP and files: stream and shard).
        offsets: ascending offsets (a ``range`` when consecutive: files, the HTTP write-ahead log).
        values: the raw payloads (``None``: a Kafka tombstone).
        keys: the record keys, or ``None``.
        timestamps_ms: the source timestamps in milliseconds since the epoch, or ``None``.
        headers: each record's headers as ``(key, value)`` pairs, or ``None`` when no record has any.
    """

    topic: str
    partition: int
    offsets: Sequence[int]
    values: Sequence[bytes | None]
    keys: Sequence[bytes | None] | None = None
    timestamps_ms: Sequence[int | None] | None = None
    headers: Sequence[tuple[tuple[str, bytes], ...]] | None = None

    def __len__(self) -> int:
        return len(self.offsets)

    def __iter__(self) -> Iterator[SourceRecord]:
        return (self.record(i) for i in range(len(self.offsets)))

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def size_bytes(self) -> int:
        """The payloads' total size in bytes (what ``batch.max_bytes`` counts)."""
        try:
            return sum(map(len, self.values))  # type: ignore[arg-type]
        except TypeError:  # a tombstone among them
            return sum(len(v) for v in self.values if v is not None)

    def record(self, index: int) -> SourceRecord:
        """The ``index``-th record as a :class:`SourceRecord`."""
        return SourceRecord(
            self.topic,
            self.partition,
            self.offsets[index],
            self.values[index],
            self.keys[index] if self.keys is not None else None,
            self.timestamps_ms[index] if self.timestamps_ms is not None else None,
            self.headers[index] if self.headers is not None else (),
        )

    def slice(self, start: int, stop: int) -> RecordChunk:
        """Records ``start`` to ``stop - 1`` (the chunk itself when that is all of it)."""
        if start == 0 and stop >= len(self.offsets):
            return self
        return RecordChunk(
            self.topic,
            self.partition,
            self.offsets[start:stop],
            self.values[start:stop],
            self.keys[start:stop] if self.keys is not None else None,
            self.timestamps_ms[start:stop] if self.timestamps_ms is not None else None,
            self.headers[start:stop] if self.headers is not None else None,
        )

    @classmethod
    def of(cls, records: Iterable[SourceRecord]) -> list[RecordChunk]:
        """Records as chunks: one per run of consecutive records of the same partition, in order."""
        return [
            cls.gather(topic, partition, list(run))
            for (topic, partition), run in itertools.groupby(records, key=lambda r: (r.topic, r.partition))
        ]

    @classmethod
    def gather(cls, topic: str, partition: int, items: Sequence[Any], *, timestamp: str = "timestamp_ms") -> RecordChunk:
        """A chunk of one partition's record-like objects, one list per attribute: ``offset``, ``value``, ``key``,
        ``headers`` and the timestamp attribute named ``timestamp`` (aiokafka's ``ConsumerRecord`` calls it
        ``timestamp``)."""
        headers = [tuple(i.headers) if i.headers else () for i in items]
        return cls(
            topic,
            partition,
            [i.offset for i in items],
            [i.value for i in items],
            [i.key for i in items],
            list(map(operator.attrgetter(timestamp), items)),
            headers if any(headers) else None,
        )
