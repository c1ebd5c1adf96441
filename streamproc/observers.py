"""Observers: what else happens around a run (metrics, OpenLineage events, health), kept out of the data path.

An observer subclasses :class:`PipelineObserver` and overrides the hooks it needs; the pipeline awaits each hook in
order. A hook must be quick and must not raise for a problem of its own (log it instead): a broken metrics endpoint
or lineage transport never stops landing. The lake is the outbox, so nothing an observer misses is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamproc.sources.base import Source, TopicPartition

if TYPE_CHECKING:
    from contracts import Contract
    from streamproc.batching.batcher import MicroBatch
    from streamproc.config import PipelineConfig
    from streamproc.landing import LoadOutcome
    from streamproc.lineage.loads import LoadRecord
    from streamproc.summary import RunSummary

__all__ = ["PipelineObserver", "RunInfo"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What an observer knows of a run from its start.

    Attributes:
        run_id: a UUID, one per process run (the OpenLineage run id).
        config: the pipeline config.
        contract: the contract class.
        contract_hash: its schema hash.
        source_uris: topic → ``_source`` URI.
        tables: role (``table``, ``quarantine``, ``loads``) → location.
        source: the started-next source, for observers that sample it (consumer lag); never fetch from it.
    """

    run_id: str
    config: PipelineConfig
    contract: type[Contract]
    contract_hash: str
    source_uris: dict[str, str]
    tables: dict[str, str]
    source: Source | None = None


class PipelineObserver:
    """Base class with no-op hooks. Lifecycle: ``on_start`` once, then any others, then ``on_stop`` once."""

    async def on_start(self, run: RunInfo) -> None:
        """The tables are open and the source is about to start."""

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        """Partitions were assigned (the consumer joined or rebalanced); empty when it joined with nothing to own."""

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Partitions were revoked."""

    async def on_recovered(self, loads: Sequence[LoadRecord]) -> None:
        """On assignment, loads a crashed process had interrupted were recorded in ``_loads`` from their commits
        (:mod:`streamproc.lineage.recovery`), oldest first. Each belongs to the crashed process's run
        (``load.run_id``), not this one. Called before ``on_assigned`` of the same assignment."""

    async def on_load(self, outcome: LoadOutcome, batch: MicroBatch) -> None:
        """A micro-batch was landed and committed to the lake (before the Kafka offset commit)."""

    async def on_storage_retry(self, error: BaseException, attempt: int) -> None:
        """A load failed on storage and will be retried (offsets are not committed meanwhile)."""

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        """The run ended: gracefully (``error`` is ``None``), by a freeze stop, or by an error."""
