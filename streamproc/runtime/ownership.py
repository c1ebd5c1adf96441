"""Partition ownership: which partitions this member owns, the rebalance generation, and the landing lock.

Concurrency contract (everything runs in the pipeline's event loop; blocking table I/O in worker threads):

- The **landing lock** serialises the committer: a commit (runtime/checkpoint.py), an assignment's position read and
  interrupted-load recovery (:meth:`PartitionOwnership.assigned`), a revocation (:meth:`PartitionOwnership.revoked`),
  table maintenance and the caught-up check's reads of the Delta log never overlap. The committer's tables are
  therefore never used by two threads at once.
- A revocation waits for the lock, so an in-flight load of the revoked partitions finishes before the new owner
  reads the Delta log; what is still buffered is dropped and re-read by the new owner.
- Every fetched chunk, closed batch and prepared load is tagged with the **generation** current when the consumer
  returned its records; each partition remembers the generation in which it was last assigned or revoked
  (:meth:`PartitionOwnership.changed_since`). An assignment seeks the partition to the Delta log's position, so
  what was fetched of it before is dropped unread (its records come again from that position): a chunk queued across
  a rebalance would otherwise open a gap. A revoked partition's records are its new owner's to land.
- **Eager rebalancing** (aiokafka, or confluent-kafka with ``range``/``roundrobin``) revokes and re-assigns every
  partition, so everything in flight is dropped, as before. **Cooperative rebalancing** (confluent-kafka's
  ``cooperative-sticky``) revokes and assigns only the partitions that move: chunks of the others are batched, and
  loads holding any partition that did not move are committed whole (rows of a moved partition in them are left out
  by the ``txn`` versions if its new owner landed them first, as a zombie's are: docs/exactly-once.md); a load
  holding only moved partitions is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import anyio

from streamproc.batching.batcher import Batcher
from streamproc.errors import StorageUnavailableError
from streamproc.observe.observer import Observers
from streamproc.sinks.committer import Committer
from streamproc.records import RecordChunk, TopicPartition

__all__ = ["PartitionOwnership"]

logger = logging.getLogger(__name__)


class PartitionOwnership:
    """The source's assign / revoke callbacks for one pipeline (see the module docstring).

    Args:
        committer: reads where each assigned partition resumes (and records interrupted loads).
        batcher: told where assigned partitions resume, and to drop what it buffered of revoked ones.
        observers: told of recovered loads, assignments and revocations.
    """

    def __init__(self, committer: Committer, batcher: Batcher, observers: Observers) -> None:
        self.committer = committer
        self.batcher = batcher
        self.observers = observers
        self.lock = anyio.Lock()
        self.owned: set[TopicPartition] = set()
        self.generation = 0
        self._changed: dict[TopicPartition, int] = {}

    def is_current(self, generation: int) -> bool:
        """Whether something tagged with ``generation`` predates no rebalance at all (the fast path)."""
        return generation == self.generation

    def changed_since(self, generation: int, tp: TopicPartition) -> bool:
        """Whether ``tp`` was assigned or revoked after ``generation``: what was fetched of it then is stale."""
        return self._changed.get(tp, 0) > generation

    def current_chunks(self, generation: int, chunks: list[RecordChunk]) -> list[RecordChunk]:
        """The chunks (fetched in ``generation``) of partitions that did not move since."""
        if generation == self.generation:
            return chunks
        return [c for c in chunks if not self.changed_since(generation, c.topic_partition)]

    def any_current(self, generation: int, partitions: Iterable[TopicPartition]) -> bool:
        """Whether any of ``partitions`` (of a load closed in ``generation``) did not move since."""
        return generation == self.generation or any(not self.changed_since(generation, tp) for tp in partitions)

    def _moved(self, partitions: set[TopicPartition]) -> None:
        self.generation += 1
        for tp in partitions:
            self._changed[tp] = self.generation

    async def assigned(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Partitions were assigned: where each resumes according to the Delta log (``None``: it does not know).

        Under the landing lock: the position read may record an interrupted load in ``_loads``.

        Raises:
            StorageUnavailableError: a table's log cannot be read, or ``_loads`` cannot be written.
        """
        async with self.lock:
            positions = await anyio.to_thread.run_sync(self.committer.positions, partitions) if partitions else {}
            recovered = self.committer.take_recovered()
            self.batcher.assign(positions)
            self.owned |= partitions
            self._moved(partitions)
        if recovered:  # announced live (lineage), not only by `streamproc lineage backfill`
            await self.observers.on_recovered(recovered)
        await self.observers.on_assigned(partitions)
        return positions

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Partitions were revoked: once the in-flight load is committed, record the ``_loads`` rows waiting for their
        group (the new owner looks for loads without one), forget the partitions and drop their buffer."""
        async with self.lock:
            if self.committer.unrecorded:
                await self._record_before_handing_over(partitions)
            self.owned -= partitions
            self._moved(partitions)
            dropped = self.batcher.revoke(partitions)
            if dropped:
                logger.info("dropped %d buffered records of revoked partitions (not acknowledged)", dropped)
        await self.observers.on_revoked(partitions)

    async def _record_before_handing_over(self, partitions: set[TopicPartition]) -> None:
        try:
            await anyio.to_thread.run_sync(self.committer.record_loads)
        except StorageUnavailableError as exc:
            # One attempt: a revocation must not wait for storage. The new owner of a load's lowest partition records
            # its row from the data tables' commits, as after a crash; the others keep waiting for their group.
            dropped = self.committer.forget_unrecorded(partitions)
            logger.warning(
                "could not record %d waiting _loads rows before handing partitions over (%s); their new owner "
                "records them from the data tables' commits",
                dropped,
                exc,
            )

    async def landed(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Where ``partitions`` resume according to the Delta log now (whoever owns them), read under the lock."""
        async with self.lock:
            return await anyio.to_thread.run_sync(self.committer.landed, partitions)
