"""Micro-batching: records accumulate until a row, byte or linger limit closes the batch."""

from __future__ import annotations

import time
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from streamproc.config import BatchConfig
from streamproc.sources.base import SourceRecord, TopicPartition

__all__ = ["MicroBatch", "Batcher", "CloseReason"]

CloseReason = Literal["rows", "bytes", "linger", "caught_up", "shutdown", "revoked"]


class _Everything:
    """A container holding every partition (what :meth:`Batcher.add` passes as ``owned``)."""

    def __contains__(self, item: Any) -> bool:
        return True


_EVERY_PARTITION = _Everything()


@dataclass(slots=True)
class MicroBatch:
    """The records of one load, in arrival order (per partition: ascending offsets).

    Attributes:
        records: the raw records.
        size_bytes: the sum of their payload sizes.
        opened_at: ``time.monotonic()`` when the first record arrived.
        close_reason: why the batch was closed.
    """

    records: list[SourceRecord] = field(default_factory=list)
    size_bytes: int = 0
    opened_at: float = 0.0
    close_reason: CloseReason | None = None

    def offset_ranges(self) -> dict[TopicPartition, tuple[int, int]]:
        """``{(topic, partition): (first offset, last offset)}`` of the records in the batch."""
        # Called for every load on batches of up to max_rows records: one dict lookup per record, keyed by a plain
        # tuple (no TopicPartition built per record); spans are [first, last] lists updated in place.
        spans: dict[tuple[str, int], list[int]] = {}
        for record in self.records:
            offset = record.offset
            span = spans.get((record.topic, record.partition))
            if span is None:
                spans[(record.topic, record.partition)] = [offset, offset]
            elif offset < span[0]:
                span[0] = offset
            elif offset > span[1]:
                span[1] = offset
        return {TopicPartition(*key): (first, last) for key, (first, last) in spans.items()}


class Batcher:
    """Collects records into a :class:`MicroBatch` and says when it must close.

    A record whose offset is below the next expected offset of its partition is a re-delivery (after a rebalance or
    a seek) and is skipped, so a batch never holds one offset twice.
    """

    def __init__(self, config: BatchConfig) -> None:
        self._config = config
        self._batch = MicroBatch()
        self._next_offset: dict[TopicPartition, int] = {}

    def __len__(self) -> int:
        return len(self._batch.records)

    def add(self, record: SourceRecord) -> CloseReason | None:
        """Add one record; returns the reason the batch must close now, or ``None``."""
        return self.extend((record,), owned=_EVERY_PARTITION)[0]

    def extend(
        self, records: Sequence[SourceRecord], *, owned: Container[TopicPartition]
    ) -> tuple[CloseReason | None, int]:
        """Add records in order, as :meth:`add` does one by one, skipping those of partitions not in ``owned``,
        until the batch must close.

        Returns:
            ``(reason, taken)``: why the batch must close now (``None``: it need not) and how many of ``records``
            were taken (added or skipped). After a reason, land the batch (:meth:`take`) and pass the rest again.
        """
        # The pipeline's per-record hot loop (every event passes here): locals, and a plain (topic, partition) key,
        # equal to the TopicPartition keys of _next_offset, instead of a TopicPartition built per record.
        batch, next_offset = self._batch, self._next_offset
        rows, size = batch.records, batch.size_bytes
        max_rows, max_bytes = self._config.max_rows, self._config.max_bytes
        reason: CloseReason | None = None
        taken = 0
        for taken, record in enumerate(records, 1):  # noqa: B007 - taken is returned
            key = (record.topic, record.partition)
            if key not in owned:
                continue
            offset = record.offset
            expected = next_offset.get(key)
            if expected is not None and offset < expected:
                continue
            if key in next_offset:
                next_offset[key] = offset + 1  # the TopicPartition key stays
            else:
                next_offset[TopicPartition(*key)] = offset + 1
            if not rows:
                batch.opened_at = time.monotonic()
            rows.append(record)
            size += len(record.value) if record.value is not None else 0
            if len(rows) >= max_rows:
                reason = "rows"
                break
            if size >= max_bytes:
                reason = "bytes"
                break
        batch.size_bytes = size
        return reason, taken

    def seconds_until_linger(self) -> float | None:
        """Seconds until the open batch's linger expires (0 when due); ``None`` when the batch is empty."""
        if not self._batch.records:
            return None
        return max(0.0, self._batch.opened_at + self._config.max_linger_seconds - time.monotonic())

    def take(self, reason: CloseReason) -> MicroBatch | None:
        """Close and return the open batch (``None`` when empty); a new empty batch opens."""
        if not self._batch.records:
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
        kept = [r for r in self._batch.records if r.topic_partition not in revoked]
        dropped = len(self._batch.records) - len(kept)
        if dropped:
            self._batch.records = kept
            self._batch.size_bytes = sum(r.size for r in kept)
        return dropped
