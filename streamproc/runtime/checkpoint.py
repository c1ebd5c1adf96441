"""The checkpoint of one load: commit it to the lake (retrying storage errors), then commit its offsets to the source.

As quix-streams' ``Checkpoint`` flushes its sinks before it commits Kafka offsets: the Delta commit is the durable
one, and the source learns about it only afterwards (Kafka's committed offsets only follow the Delta log, for lag
tools; the HTTP source's log releases what is landed).

The committer queues each load's ``_loads`` row for a group commit (sinks/waiting_loads.py);
:meth:`Checkpoint.record_loads` records the waiting rows, retrying as a commit does, when the commit stage falls idle
and when it stops.

Concurrency: :meth:`Checkpoint.commit` holds the landing lock (runtime/ownership.py) for the Delta commit and its
retries, and drops a load prepared before a rebalance; the offset commit runs outside the lock (a Kafka commit may
wait for a rebalance that waits for that lock). One checkpoint at a time: the pipeline's commit stage is one task.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from streamproc.errors import StorageUnavailableError
from streamproc.observe.observer import Observers
from streamproc.observe.summary import RunSummary
from streamproc.runtime.ownership import PartitionOwnership
from streamproc.sinks.committer import Committer, PreparedLoad
from streamproc.sources.base import Source

__all__ = ["Checkpoint"]

T = TypeVar("T")

logger = logging.getLogger(__name__)


class Checkpoint:
    """Commits prepared loads to the lake, then their offsets to the source (see the module docstring).

    Args:
        committer: the Delta committer.
        source: told the next offsets once they are durable in the lake.
        ownership: the landing lock and the rebalance generation.
        observers: told of each load and each storage retry.
        summary: the run's totals.
        stopping: set when the run stops: storage retries stop then (the load was not acknowledged).
    """

    def __init__(
        self,
        committer: Committer,
        source: Source,
        *,
        ownership: PartitionOwnership,
        observers: Observers,
        summary: RunSummary,
        stopping: anyio.Event,
    ) -> None:
        self.committer = committer
        self.source = source
        self.ownership = ownership
        self.observers = observers
        self.summary = summary
        self.stopping = stopping
        self._retry_to_report: tuple[BaseException, int] | None = None

    async def commit(self, prepared: PreparedLoad, *, generation: int) -> None:
        """Commit ``prepared`` (closed in rebalance ``generation``), then its offsets.

        Raises:
            StorageUnavailableError: a commit failed and the run is stopping (nothing was acknowledged).
            SchemaMismatchError: a table refused the batch's schema.
        """
        batch = prepared.batch
        async with self.ownership.lock:
            if not self.ownership.any_current(generation, prepared.ranges):
                # Prepared before a rebalance that moved each of its partitions: they were re-sought to the Delta
                # log's position (or are another member's now), so these records come again (dropped as the batcher
                # drops what it buffered; never acknowledged). A load with a partition that did not move (a
                # cooperative rebalance) is committed: the txn versions leave out what a new owner landed first.
                logger.info("dropped a prepared load of %d records across a rebalance (not acknowledged)", len(batch))
                return
            outcome = await self._retrying(functools.partial(self.committer.commit, prepared))
        await self.observers.on_load(outcome, batch)
        for index, table in enumerate(outcome.tables):
            if not table.already_landed:
                # the batch's events count once, with the pipeline's own table; routes' loads add rows only (and
                # their own events to their route's line)
                events = sum(r.last - r.first + 1 for r in table.load.offsets) if index == 0 else 0
                self.summary.add(table.load, events=events, route_events=table.events)
        load = outcome.load
        logger.info(
            "load %s (%s): %d landed, %d quarantined, offsets %s, table v%s",
            load.load_id[:12],
            batch.close_reason,
            sum(t.load.rows_landed for t in outcome.tables),
            sum(t.load.rows_quarantined for t in outcome.tables),
            ", ".join(f"{r.topic}[{r.partition}]@{r.first}-{r.last}" for r in load.offsets) or "already landed",
            load.delta_version,
        )
        # Outside the landing lock: a commit may wait for a rebalance that waits for that lock.
        with anyio.move_on_after(10):
            await self.source.commit(outcome.next_offsets)

    @property
    def unrecorded(self) -> int:
        """How many committed loads' ``_loads`` rows wait for their group's commit (sinks/waiting_loads.py)."""
        return self.committer.unrecorded

    async def record_loads(self) -> None:
        """Append the ``_loads`` rows that wait for their group, under the landing lock, retrying storage errors as
        a commit does (the commit stage calls it when it falls idle and when it stops).

        Raises:
            StorageUnavailableError: ``_loads`` cannot be written and the run is stopping (the next run rebuilds the
                rows from the data tables' commits).
        """
        if not self.committer.unrecorded:
            return
        async with self.ownership.lock:
            started = time.perf_counter()
            rows = await self._retrying(self.committer.record_loads)
        if rows:
            await self.observers.on_loads_recorded(rows, time.perf_counter() - started)

    async def _retrying(self, call: Callable[[], T]) -> T:
        """``call`` in a worker thread, again after each storage error until it succeeds or the run stops."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(StorageUnavailableError),
            wait=wait_exponential_jitter(multiplier=0.5, max=30),
            stop=lambda _state: self.stopping.is_set(),
            before_sleep=self._before_retry,
            reraise=True,
        ):
            with attempt:
                if self._retry_to_report is not None:
                    (error, failed_attempts), self._retry_to_report = self._retry_to_report, None
                    await self.observers.on_storage_retry(error, failed_attempts)
                return await anyio.to_thread.run_sync(call)
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def _before_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "storage unavailable (attempt %d), retrying in %.1fs; offsets are not committed: %s",
            state.attempt_number,
            state.next_action.sleep if state.next_action else 0.0,
            error,
        )
        if error is not None:
            self._retry_to_report = (error, state.attempt_number)
