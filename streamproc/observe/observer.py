"""Observers: what else happens around a run (metrics, OpenLineage events, readiness), kept out of the data path.

An observer implements the :class:`PipelineObserver` protocol; subclassing it explicitly inherits no-op hooks, so
an observer overrides only the ones it needs. The pipeline calls every hook directly, through :class:`Observers`, so a renamed hook fails type
checking and the tests, not silently. A hook must be quick and must not raise for a problem of its own (log it
instead): :class:`Observers` logs what one raises and goes on, so a broken metrics endpoint or lineage transport
never stops landing. The lake is the outbox, so nothing an observer misses is lost.

Concurrency: hooks run in the pipeline's event loop, one at a time, in this order per run: ``on_start`` once, then
``on_assigned`` / ``on_revoked`` / ``on_recovered`` / ``on_load`` / ``on_storage_retry`` as they happen, then
``on_stop`` once. ``on_load`` runs after the Delta commit and before the Kafka offset commit, outside the landing
lock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from streamproc.records import TopicPartition
from streamproc.sources.base import Source

if TYPE_CHECKING:
    from contracts import Contract
    from streamproc.batching.batcher import MicroBatch
    from streamproc.config import PipelineConfig
    from streamproc.config.resolve import PipelineContracts
    from streamproc.lineage.loads import LoadRecord
    from streamproc.observe.summary import RunSummary
    from streamproc.sinks.committer import LoadOutcome

__all__ = ["Observers", "PipelineObserver", "RunInfo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What an observer knows of a run from its start.

    Attributes:
        run_id: a UUID, one per process run (the OpenLineage run id).
        config: the pipeline config.
        contract: the pipeline's own contract class.
        contract_hash: its schema hash.
        source_uris: topic → ``_source`` URI.
        tables: role (``table``, ``quarantine``, ``loads``) → location, of the pipeline's own table.
        source: the started-next source, for observers that sample it (consumer lag); never fetch from it.
        contracts: every route's contract and tables (the pipeline's own first); ``None``: only the own one.
        open_events: how many events the open micro-batch holds now (cheap; read at any time, e.g. by a gauge at
            scrape time); ``None``: not known.
    """

    run_id: str
    config: PipelineConfig
    contract: type[Contract]
    contract_hash: str
    source_uris: dict[str, str]
    tables: dict[str, str]
    source: Source | None = None
    contracts: PipelineContracts | None = None
    open_events: Callable[[], int] | None = None


class PipelineObserver(Protocol):
    """The hooks of a run (see the module docstring for their order and rules). Each hook's body here is a no-op,
    inherited by observers that subclass this protocol."""

    async def on_start(self, run: RunInfo) -> None:
        """The tables are open and the source is about to start."""
        return None

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        """Partitions were assigned (the consumer joined or rebalanced); empty when it joined with nothing to own."""
        return None

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Partitions were revoked."""
        return None

    async def on_recovered(self, loads: Sequence[LoadRecord]) -> None:
        """On assignment, loads a crashed process had interrupted were recorded in ``_loads`` from their commits
        (:func:`streamproc.sinks.txn.record_interrupted_loads`), oldest first. Each belongs to the crashed
        process's run (``load.run_id``), not this one. Called before ``on_assigned`` of the same assignment."""
        return None

    async def on_load(self, outcome: LoadOutcome, batch: MicroBatch) -> None:
        """A micro-batch was committed to the lake, into every route's table (before the Kafka offset commit)."""
        return None

    async def on_loads_recorded(self, rows: int, seconds: float) -> None:
        """``_loads`` rows that waited for their group were appended in one commit outside a load's commit (the
        commit stage fell idle, or the run stopped: sinks/waiting_loads.py), taking ``seconds``. A group recorded within
        a load's commit is in that load's ``commit_seconds`` instead."""
        return None

    async def on_storage_retry(self, error: BaseException, attempt: int) -> None:
        """A load failed on storage and will be retried (offsets are not committed meanwhile)."""
        return None

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        """The run ended: gracefully (``error`` is ``None``), by a freeze stop, or by an error."""
        return None


class Observers:
    """A run's observers: each hook is called on every observer in order; what one raises is logged, not raised."""

    def __init__(self, observers: Sequence[PipelineObserver] = ()) -> None:
        self.observers = tuple(observers)

    async def on_start(self, run: RunInfo) -> None:
        await self._each("on_start", lambda o: o.on_start(run))

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        await self._each("on_assigned", lambda o: o.on_assigned(partitions))

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        await self._each("on_revoked", lambda o: o.on_revoked(partitions))

    async def on_recovered(self, loads: Sequence[LoadRecord]) -> None:
        await self._each("on_recovered", lambda o: o.on_recovered(loads))

    async def on_load(self, outcome: LoadOutcome, batch: MicroBatch) -> None:
        await self._each("on_load", lambda o: o.on_load(outcome, batch))

    async def on_loads_recorded(self, rows: int, seconds: float) -> None:
        await self._each("on_loads_recorded", lambda o: o.on_loads_recorded(rows, seconds))

    async def on_storage_retry(self, error: BaseException, attempt: int) -> None:
        await self._each("on_storage_retry", lambda o: o.on_storage_retry(error, attempt))

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        await self._each("on_stop", lambda o: o.on_stop(summary, error))

    async def _each(self, hook: str, call: Callable[[PipelineObserver], Awaitable[None]]) -> None:
        for observer in self.observers:
            try:
                await call(observer)
            except Exception:  # noqa: BLE001 - an observer never stops landing
                logger.exception("observer %s failed in %s", type(observer).__name__, hook)
