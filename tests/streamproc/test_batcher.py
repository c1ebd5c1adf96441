"""Micro-batching limits and re-delivery handling (pure logic, no I/O)."""

from __future__ import annotations

import time

from streamproc.batching.batcher import Batcher
from streamproc.config import BatchConfig
from streamproc.sources.base import SourceRecord, TopicPartition


def _record(offset: int, size: int = 10, partition: int = 0) -> SourceRecord:
    return SourceRecord("t", partition, offset, b"x" * size)


def test_the_row_limit_closes_the_batch() -> None:
    batcher = Batcher(BatchConfig(max_rows=3, max_linger_seconds=60))
    assert [batcher.add(_record(i)) for i in range(3)] == [None, None, "rows"]
    batch = batcher.take("rows")
    assert batch is not None and [r.offset for r in batch.records] == [0, 1, 2] and batch.close_reason == "rows"
    assert batcher.take("linger") is None


def test_the_byte_limit_closes_the_batch() -> None:
    batcher = Batcher(BatchConfig(max_bytes=25, max_linger_seconds=60))
    assert [batcher.add(_record(i, size=10)) for i in range(3)] == [None, None, "bytes"]
    batch = batcher.take("bytes")
    assert batch is not None and batch.size_bytes == 30


def test_linger_counts_from_the_first_record() -> None:
    batcher = Batcher(BatchConfig(max_linger_seconds=0.2))
    assert batcher.seconds_until_linger() is None
    batcher.add(_record(0))
    assert 0 < batcher.seconds_until_linger() <= 0.2
    time.sleep(0.25)
    assert batcher.seconds_until_linger() == 0.0


def test_redelivered_offsets_are_skipped_and_revoked_partitions_dropped() -> None:
    batcher = Batcher(BatchConfig(max_linger_seconds=60))
    batcher.assign({TopicPartition("t", 0): 5, TopicPartition("t", 1): None})
    for offset in (3, 4, 5, 6, 6):
        batcher.add(_record(offset))
    batcher.add(_record(0, partition=1))
    assert len(batcher) == 3
    assert batcher.revoke([TopicPartition("t", 1)]) == 1
    batch = batcher.take("shutdown")
    assert batch is not None and [(r.partition, r.offset) for r in batch.records] == [(0, 5), (0, 6)]
    assert batch.offset_ranges() == {TopicPartition("t", 0): (5, 6)}


def test_extend_takes_a_chunk_until_the_batch_must_close_skipping_partitions_not_owned() -> None:
    batcher = Batcher(BatchConfig(max_rows=3, max_linger_seconds=60))
    batcher.assign({TopicPartition("t", 0): 2})
    chunk = [_record(1), _record(2), _record(0, partition=1), _record(0, partition=2), _record(3)]
    chunk.append(_record(1, partition=2))
    owned = {TopicPartition("t", 0), TopicPartition("t", 2)}
    # offset 1 is a re-delivery, partition 1 is not owned: the third record added is the fifth of the chunk.
    assert batcher.extend(chunk, owned=owned) == ("rows", 5)
    batch = batcher.take("rows")
    assert batch is not None and [(r.partition, r.offset) for r in batch.records] == [(0, 2), (2, 0), (0, 3)]
    assert batch.size_bytes == 30
    assert batch.offset_ranges() == {TopicPartition("t", 0): (2, 3), TopicPartition("t", 2): (0, 0)}
    assert batcher.extend(chunk[5:], owned=owned) == (None, 1)
    assert batcher.extend([_record(0, partition=2)], owned=owned) == (None, 1) and len(batcher) == 1  # re-delivered
    assert batcher.revoke([TopicPartition("t", 2)]) == 1 and len(batcher) == 0
