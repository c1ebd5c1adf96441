"""Micro-batching limits and re-delivery handling (pure logic, no I/O)."""

from __future__ import annotations

import time

from streamproc.batching.batcher import Batcher
from streamproc.config import BatchConfig
from streamproc.records import RecordChunk, SourceRecord, TopicPartition


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
    before = time.monotonic()
    batcher.add(_record(0))
    opened_by = time.monotonic()
    batcher.add(_record(1))  # a later record does not restart the linger
    left = batcher.seconds_until_linger()
    elapsed = time.monotonic() - before
    # However slow the machine: what is left is the linger less the time since the first record (0 once it passed).
    assert max(0.0, 0.2 - elapsed) <= left <= 0.2
    while time.monotonic() < opened_by + 0.2:  # the linger passes (the clock itself, not a wait for a condition)
        time.sleep(0.05)
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


def _chunk(offsets: list[int], partition: int = 0, size: int = 10) -> RecordChunk:
    return RecordChunk("t", partition, offsets, [b"x" * size for _ in offsets])


def test_extend_takes_chunks_until_the_batch_must_close_skipping_partitions_not_owned() -> None:
    batcher = Batcher(BatchConfig(max_rows=3, max_linger_seconds=60))
    batcher.assign({TopicPartition("t", 0): 2})
    chunks = [_chunk([1, 2]), _chunk([0], partition=1), _chunk([0, 1], partition=2), _chunk([3])]
    owned = {TopicPartition("t", 0), TopicPartition("t", 2)}
    # offset 1 is a re-delivery and partition 1 is not owned: partition 2's two records fill the batch.
    reason, rest = batcher.extend(chunks, owned=owned)
    assert reason == "rows"
    assert [(c.partition, list(c.offsets)) for c in rest] == [(0, [3])]
    batch = batcher.take("rows")
    assert batch is not None and [(r.partition, r.offset) for r in batch.records] == [(0, 2), (2, 0), (2, 1)]
    assert batch.size_bytes == 30
    assert batch.offset_ranges() == {TopicPartition("t", 0): (2, 2), TopicPartition("t", 2): (0, 1)}
    assert batcher.extend(rest, owned=owned) == (None, []) and len(batcher) == 1
    assert batcher.extend([_chunk([0, 1], partition=2)], owned=owned) == (None, []) and len(batcher) == 1  # re-delivered
    assert batcher.extend([_chunk([1, 2], partition=2)], owned=owned) == (None, []) and len(batcher) == 2
    assert batcher.revoke([TopicPartition("t", 2)]) == 1 and len(batcher) == 1


def test_the_byte_limit_splits_a_chunk_after_the_record_that_reaches_it() -> None:
    batcher = Batcher(BatchConfig(max_bytes=25, max_linger_seconds=60))
    reason, rest = batcher.extend([_chunk([0, 1, 2, 3, 4])], owned={TopicPartition("t", 0)})
    assert reason == "bytes" and [list(c.offsets) for c in rest] == [[3, 4]]
    batch = batcher.take("bytes")
    assert batch is not None and len(batch) == 3 and batch.size_bytes == 30


def test_a_file_chunk_keeps_its_offsets_as_a_range_and_coordinates_are_columns() -> None:
    batcher = Batcher(BatchConfig(max_rows=4, max_linger_seconds=60))
    chunk = RecordChunk("f.ndjson", 0, range(10, 16), [b"{}"] * 6)
    reason, rest = batcher.extend([chunk], owned={TopicPartition("f.ndjson", 0)})
    assert reason == "rows" and rest[0].offsets == range(14, 16)
    batch = batcher.take("rows")
    assert batch is not None and batch.chunks[0].offsets == range(10, 14)
    coordinates = batch.coordinates()
    assert coordinates.offsets.to_pylist() == [10, 11, 12, 13]
    assert coordinates.take([3, 1]).offsets.to_pylist() == [13, 11]
    assert coordinates.sources({"f.ndjson": "file:///f.ndjson"}).to_pylist() == ["file:///f.ndjson"] * 4
    assert batch.record(2).offset == 12
