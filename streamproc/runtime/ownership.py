"""Partition ownership: which partitions this member owns, the rebalance generation, and the landing lock.

Concurrency contract (everything runs in the pipeline's event loop; blocking table I/O in worker threads):

- The **landing lock** serialises the committer: a commit (runtime/checkpoint.py), an assignment's position read and
  interrupted-load recovery (:meth:`PartitionOwnership.assigned`), a revocation (:meth:`PartitionOwnership.revoked`),
  table maintenance and the caught-up check's reads of the Delta log never overlap. The committer's tables are
  therefore never used by two threads at once.
- A revocation waits for the lock, so an in-flight load of the revoked partitions finishes before the new owner
  reads the Delta log; what is still buffered is dropped and re-read by the new owner.
- Every fetched chunk, closed batch and prepared load is tagged with the **generation** current when the consumer
  returned its records. A rebalance bumps it (under the lock) and re-seeks every assigned partition to the Delta
  log's position, so anything tagged with an older generation is dropped unread (its records come again from that
  position): a chunk queued across a rebalance would otherwise open a gap, and a load prepared before it would be
  committed after the seek.
"""

from __future__ import annotations

import logging

import anyio

from streamproc.batching.batcher import Batcher
from streamproc.observe.observer import Observers
from streamproc.sinks.committer import Committer
from streamproc.records import TopicPartition

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

    def is_current(self, generation: int) -> bool:
        """Whether something tagged with ``generation`` predates no rebalance."""
        return generation == self.generation

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
            self.generation += 1
        if recovered:  # announced live (lineage), not only by `streamproc lineage backfill`
            await self.observers.on_recovered(recovered)
        await self.observers.on_assigned(partitions)
        return positions

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        """Partitions were revoked: once the in-flight load is committed, forget them and drop their buffer."""
        async with self.lock:
            self.owned -= partitions
            self.generation += 1
            dropped = self.batcher.revoke(partitions)
            if dropped:
                logger.info("dropped %d buffered records of revoked partitions (not acknowledged)", dropped)
        await self.observers.on_revoked(partitions)

    async def landed(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Where ``partitions`` resume according to the Delta log now (whoever owns them), read under the lock."""
        async with self.lock:
            return await anyio.to_thread.run_sync(self.committer.landed, partitions)
