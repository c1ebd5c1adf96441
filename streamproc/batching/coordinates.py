"""A micro-batch's source coordinates as Arrow columns: what the lineage columns and exactly-once filtering read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamproc.records import RecordChunk, TopicPartition

__all__ = ["Coordinates"]


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Topic, partition and offset of n records, column-wise.

    Attributes:
        topics: ``dictionary<int32, string>``: each record's topic (few distinct values).
        partitions: ``int32``.
        offsets: ``int64``.
    """

    topics: pa.DictionaryArray
    partitions: pa.Array
    offsets: pa.Array

    @classmethod
    def of(cls, chunks: Sequence[RecordChunk]) -> Coordinates:
        """The coordinates of the chunks' records, chunk after chunk (built per chunk, never per record)."""
        names: dict[str, int] = {}
        topic_codes, partitions, offsets = [], [], []
        for chunk in chunks:
            n = len(chunk)
            code = names.setdefault(chunk.topic, len(names))
            topic_codes.append(np.full(n, code, np.int32))
            partitions.append(np.full(n, chunk.partition, np.int32))
            if isinstance(chunk.offsets, range):
                offsets.append(np.arange(chunk.offsets.start, chunk.offsets.stop, chunk.offsets.step, np.int64))
            else:
                offsets.append(np.asarray(chunk.offsets, np.int64))

        def joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype)

        return cls(
            pa.DictionaryArray.from_arrays(pa.array(joined(topic_codes, np.int32)), pa.array(list(names), pa.string())),
            pa.array(joined(partitions, np.int32)),
            pa.array(joined(offsets, np.int64)),
        )

    def __len__(self) -> int:
        return len(self.offsets)

    def take(self, indices: Sequence[int] | pa.Array) -> Coordinates:
        """The coordinates of the records at ``indices`` (positions in this batch), in that order."""
        positions = indices if isinstance(indices, pa.Array) else pa.array(indices, pa.int64())
        if len(positions) == len(self) and (not len(positions) or _is_identity(positions)):
            return self
        return Coordinates(self.topics.take(positions), self.partitions.take(positions), self.offsets.take(positions))

    def sources(self, source_uris: Mapping[str, str]) -> pa.Array:
        """Each record's ``_source`` lineage value (``string``): ``source_uris[topic]``."""
        uris = pa.array([source_uris[t] for t in self.topics.dictionary.to_pylist()], pa.string())
        return pa.DictionaryArray.from_arrays(self.topics.indices, uris).cast(pa.string())

    def beyond(self, versions: Mapping[TopicPartition, int | None]) -> pa.Array:
        """``bool`` per record: true unless its offset is at or below its partition's ``versions`` entry (what a
        table's ``txn`` says it already holds; ``None`` or absent: nothing)."""
        keep = pa.repeat(pa.scalar(True), len(self))
        topics = self.topics.dictionary.to_pylist()
        for tp, version in versions.items():
            if version is None or tp.topic not in topics:
                continue
            code = topics.index(tp.topic)
            held = pc.and_(
                pc.and_(pc.equal(self.topics.indices, code), pc.equal(self.partitions, tp.partition)),
                pc.less_equal(self.offsets, version),
            )
            keep = pc.and_(keep, pc.invert(held))
        return keep


def _is_identity(positions: pa.Array) -> bool:
    """Whether ``positions`` is 0, 1, …, n - 1 (every record, in order: nothing to take)."""
    values = positions.to_numpy(zero_copy_only=False)
    return bool(values[0] == 0 and values[-1] == len(values) - 1 and np.all(np.diff(values) == 1))
