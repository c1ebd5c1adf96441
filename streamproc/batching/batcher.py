"""Micro-batching: chunks of records accumulate until a row, byte or linger limit closes the batch."""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from streamproc.batching.coordinates import Coordinates
from streamproc.config import BatchConfig
from streamproc.records import RecordChunk, SourceRecord, TopicPartition

if TYPE_CHECKING:
    from contracts import Rejection

__all__ = ["MicroBatch", "Batcher", "CloseReason"]

CloseReason = Literal["rows", "bytes", "linger", "caught_up", "shutdown"]


class _Everything:
    """A container holding every partition (what :meth:`Batcher.add` passes as ``owned``)."""

    def __contains__(self, item: Any) -> bool:
        return True


_EVERY_PARTITION = _Everything()


@dataclass(slots=True)
class MicroBatch:
    """The records of one load, as the chunks they came in (per partition: ascending offsets).

    Records are addressed by their position in the batch (0 … ``len(batch) - 1``, chunk after chunk), which is what
    validation verdicts index into.

    Attributes:
        chunks: the records, a chunk per fetched partition slice, in arrival order.
        rows: the number of records.
        size_bytes: the sum of their payload sizes.
        opened_at: ``time.monotonic()`` when the first record arrived.
        close_reason: why the batch was closed.
        refused: events refused before validation, by position (routing's events of no known type): quarantined with
            this rejection instead of being validated.
    """

    chunks: list[RecordChunk] = field(default_factory=list)
    rows: int = 0
    size_bytes: int = 0
    opened_at: float = 0.0
    close_reason: CloseReason | None = None
    refused: dict[int, Rejection] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[SourceRecord], *, close_reason: CloseReason | None = None) -> MicroBatch:
        """A batch of the given records (tests, routing's per-route shares)."""
        chunks = RecordChunk.of(records)
        return cls(
            chunks=chunks,
            rows=sum(map(len, chunks)),
            size_bytes=sum(c.size_bytes for c in chunks),
            close_reason=close_reason,
        )

    def __len__(self) -> int:
        return self.rows

    @property
    def records(self) -> list[SourceRecord]:
        """Every record as a :class:`SourceRecord` (one object per event: for tests and rare paths)."""
        return [record for chunk in self.chunks for record in chunk]

    def record(self, index: int) -> SourceRecord:
        """The record at position ``index``."""
        chunk, at = self._locate(index)
        return chunk.record(at)

    def records_at(self, indices: Sequence[int]) -> list[SourceRecord]:
        """The records at positions ``indices``, in that order (a bisection over the chunks per index)."""
        if not indices:
            return []
        starts = list(itertools.accumulate((len(c) for c in self.chunks[:-1]), initial=0))
        out = []
        for index in indices:
            if not 0 <= index < self.rows:
                raise IndexError(f"record {index} of a batch of {self.rows}")
            at = bisect.bisect_right(starts, index) - 1
            out.append(self.chunks[at].record(index - starts[at]))
        return out

    def values(self) -> list[bytes | None]:
        """The payloads, in batch order."""
        if len(self.chunks) == 1:
            return list(self.chunks[0].values)
        return list(itertools.chain.from_iterable(c.values for c in self.chunks))

    def headers(self) -> list[tuple[tuple[str, bytes], ...]] | None:
        """The records' headers in batch order, or ``None`` when no record has any."""
        if all(c.headers is None for c in self.chunks):
            return None
        return list(itertools.chain.from_iterable(c.headers or ((),) * len(c) for c in self.chunks))

    def coordinates(self) -> Coordinates:
        """The records' source coordinates, column-wise, in batch order."""
        return Coordinates.of(self.chunks)

    def offset_ranges(self) -> dict[TopicPartition, tuple[int, int]]:
        """``{(topic, partition): (first offset, last offset)}`` of the records in the batch."""
        spans: dict[TopicPartition, tuple[int, int]] = {}
        for chunk in self.chunks:
            if not len(chunk):
                continue
            tp, first, last = chunk.topic_partition, chunk.offsets[0], chunk.offsets[-1]
            known = spans.get(tp)
            spans[tp] = (first, last) if known is None else (min(known[0], first), max(known[1], last))
        return spans

    def _locate(self, index: int) -> tuple[RecordChunk, int]:
        if not 0 <= index < self.rows:
            raise IndexError(f"record {index} of a batch of {self.rows}")
        for chunk in self.chunks:
            if index < len(chunk):
                return chunk, index
            index -= len(chunk)
        raise AssertionError("unreachable: rows is the chunks' total")  # pragma: no cover


class Batcher:
    """Collects chunks of records into a :class:`MicroBatch` and says when it must close.

    A record whose offset is below the next expected offset of its partition is a re-delivery (after a rebalance or
    a seek) and is skipped, so a batch never holds one offset twice.
    """

    def __init__(self, config: BatchConfig) -> None:
        self._config = config
        self._batch = MicroBatch()
        self._next_offset: dict[TopicPartition, int] = {}

    def __len__(self) -> int:
        return self._batch.rows

    def add(self, record: SourceRecord) -> CloseReason | None:
        """Add one record; returns the reason the batch must close now, or ``None``."""
        return self.extend(RecordChunk.of([record]), owned=_EVERY_PARTITION)[0]

    def extend(
        self, chunks: Sequence[RecordChunk], *, owned: Container[TopicPartition]
    ) -> tuple[CloseReason | None, list[RecordChunk]]:
        """Add chunks in order, skipping those of partitions not in ``owned`` and re-delivered offsets, until the
        batch must close.

        Returns:
            ``(reason, rest)``: why the batch must close now (``None``: it need not) and what of ``chunks`` was not
            taken. After a reason, land the batch (:meth:`take`) and pass ``rest`` again.
        """
        batch, next_offset = self._batch, self._next_offset
        max_rows, max_bytes = self._config.max_rows, self._config.max_bytes
        for position, chunk in enumerate(chunks):
            tp = chunk.topic_partition
            if tp not in owned or not len(chunk):
                continue
            offsets = chunk.offsets
            start, stop = 0, len(chunk)
            expected = next_offset.get(tp)
            if expected is not None and offsets[0] < expected:
                start = bisect.bisect_left(offsets, expected)
                if start == stop:
                    continue
            reason: CloseReason | None = None
            if stop - start >= max_rows - batch.rows:
                stop, reason = start + max_rows - batch.rows, "rows"
            part = chunk.slice(start, stop)
            size = part.size_bytes
            if batch.size_bytes + size >= max_bytes:
                # The record that reaches the limit is the last one taken.
                sizes = itertools.accumulate(len(v) if v is not None else 0 for v in part.values)
                taken = next(i for i, total in enumerate(sizes, 1) if batch.size_bytes + total >= max_bytes)
                stop, reason = start + taken, "bytes"
                part = chunk.slice(start, stop)
                size = part.size_bytes
            if not batch.rows:
                batch.opened_at = time.monotonic()
            batch.chunks.append(part)
            batch.rows += len(part)
            batch.size_bytes += size
            next_offset[tp] = offsets[stop - 1] + 1
            if reason is not None:
                rest = [chunk.slice(stop, len(chunk))] if stop < len(chunk) else []
                return reason, rest + list(chunks[position + 1 :])
        return None, []

    def seconds_until_linger(self) -> float | None:
        """Seconds until the open batch's linger expires (0 when due); ``None`` when the batch is empty."""
        if not self._batch.rows:
            return None
        return max(0.0, self._batch.opened_at + self._config.max_linger_seconds - time.monotonic())

    def take(self, reason: CloseReason) -> MicroBatch | None:
        """Close and return the open batch (``None`` when empty); a new empty batch opens."""
        if not self._batch.rows:
            return None
        batch, self._batch = self._batch, MicroBatch()
        batch.close_reason = reason
        return batch

    def assign(self, positions: dict[TopicPartition, int | None]) -> None:
        """Partitions were assigned; where known, the next offset each will deliver."""
        for tp, offset in positions.items():
            if offset is None:
                self._next_offset.pop(tp, None)
            else:
                self._next_offset[tp] = offset

    def revoke(self, partitions: Iterable[TopicPartition]) -> int:
        """Drop the buffered records of revoked partitions (their new owner re-reads them from the Delta log).

        Returns the number of records dropped from memory (none of them were acknowledged).
        """
        revoked = set(partitions)
        for tp in revoked:
            self._next_offset.pop(tp, None)
        batch = self._batch
        kept = [c for c in batch.chunks if c.topic_partition not in revoked]
        dropped = batch.rows - sum(map(len, kept))
        if dropped:
            batch.chunks = kept
            batch.rows -= dropped
            batch.size_bytes = sum(c.size_bytes for c in kept)
        return dropped
