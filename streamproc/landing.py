"""Landing a micro-batch: validate, then commit the quarantine table, the table and ``_loads``, exactly once.

The exactly-once core, after kafka-delta-ingest: each commit carries one ``txn`` action per (consumer group, table,
topic, partition) whose version is the last offset the commit covers. Before each commit the table's current
``txn`` versions are read and every row at or below them is left out, so an offset range already in a table is never
landed twice (a re-delivery after a crash, or a fenced zombie writer). On partition assignment the consumer seeks to
:meth:`Lander.positions`: the Delta log, not Kafka, says where to resume.

Commit order per load: quarantine → table → ``_loads``. Each table is committed for every load (an empty commit
still records the ``txn``), so their versions never fall behind each other by more than one load, and a restart
resumes from the lowest.

A load keeps its id across retries of the same batch (:meth:`Lander.land` with ``load_id``), so a retry after a
failed commit completes the load instead of starting another; its ``_loads`` row counts the rows its commits
actually appended. A load a crash interrupted between its commits is recorded from the commits' metadata by the
next owner of its partitions (:mod:`streamproc.lineage.recovery`). Commits that lose to a concurrent writer are
retried after re-reading the log (:func:`streamproc.sinks.delta.retry_commit_conflicts`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
import time
from dataclasses import dataclass, replace, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from contracts import Contract, ContractFrozenError, Rejection, schema_hash
from streamproc.batching.batcher import MicroBatch
from streamproc.batching.coordinates import Coordinates
from streamproc.contract_stage import ContractStage, StageOptions
from streamproc.config import SinkConfig
from streamproc.errors import ContractStopError, QuarantineThresholdError
from streamproc.lineage.columns import append_lineage
from streamproc.lineage.loads import LOADS_SCHEMA, LoadRecord, OffsetRange
from streamproc.lineage.recovery import commit_metadata, record_interrupted_loads, recorded_load_ids
from contracts.modes import ResolvedModes, resolve_modes
from contracts.registry import ContractRegistry
from contracts.threshold import QuarantineThresholdExceeded
from streamproc.sinks.delta import DeltaTableWriter, retry_commit_conflicts
from streamproc.sinks.quarantine import QUARANTINE_SCHEMA, quarantine_rows
from streamproc.sources.base import SourceRecord, TopicPartition

if TYPE_CHECKING:
    from contracts.parallel import ValidationPool

__all__ = ["Lander", "LoadOutcome", "PreparedLoad", "table_name_of", "transaction_app_id"]


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """What one :meth:`Lander.land` did.

    Attributes:
        load: the load's record (also appended to ``_loads`` unless ``already_landed``).
        next_offsets: per partition, the offset after the last one now landed: what to commit to Kafka.
        already_landed: every offset of the batch was in the tables already (a re-delivery); nothing was written.
        rejections: the batch's rejections (every violation), for metrics and reports.
        commit_seconds: per table role (``quarantine``, ``table``, ``loads``) the seconds its commit took (reading
            the log, filtering, writing, committing); a role is absent when nothing was committed to it.
        routed: with routing (:mod:`streamproc.routing`), the other routes' outcomes for the same batch; this one is
            the default route's.
    """

    load: LoadRecord
    next_offsets: dict[TopicPartition, int]
    already_landed: bool
    rejections: tuple[Rejection, ...] = ()
    commit_seconds: dict[str, float] = field(default_factory=dict)
    routed: tuple[LoadOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedLoad:
    """A validated micro-batch with the rows of its commits built (:meth:`Lander.prepare`), not yet committed.

    Attributes:
        batch: the micro-batch.
        draft: its ``_loads`` row before the commits (counts and versions not yet known): id, start, contract
            version and hash as validation left them.
        ranges: per partition, the batch's first and last offsets.
        landed, landed_at: the accepted rows with their lineage columns, and their source coordinates.
        quarantined, quarantined_at: the quarantine rows, and their source coordinates.
        rejections: every rejection (every violation), for metrics and reports.
    """

    batch: MicroBatch
    draft: LoadRecord
    ranges: dict[TopicPartition, tuple[int, int]]
    landed: pa.Table
    landed_at: Coordinates
    quarantined: pa.Table
    quarantined_at: Coordinates
    rejections: tuple[Rejection, ...]

    @property
    def load_id(self) -> str:
        return self.draft.load_id


def transaction_app_id(consumer_group: str, table_name: str, tp: TopicPartition) -> str:
    """The ``txn`` application id under which a table records a partition's position:
    ``<consumer group>/<table>/<topic>/<partition>``."""
    return f"{consumer_group}/{table_name}/{tp.topic}/{tp.partition}"


def table_name_of(uri: str) -> str:
    """A table's logical name: the last segment of its location."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


class Lander:
    """Lands micro-batches of one pipeline into its table, its quarantine table and ``_loads``.

    Blocking (delta-rs I/O): call :meth:`open`, :meth:`positions` and :meth:`land` from a worker thread. Not safe
    for concurrent :meth:`land` calls: the pipeline holds one lock around each load.
    """

    def __init__(
        self,
        *,
        contract: type[Contract],
        sink: SinkConfig,
        pipeline: str,
        consumer_group: str,
        run_id: str,
        source_uris: dict[str, str],
        modes: ResolvedModes | None = None,
        registry: ContractRegistry | None = None,
        stage_options: StageOptions | None = None,
        validation_pool: ValidationPool | None = None,
    ) -> None:
        self.contract = contract
        self.modes = modes or resolve_modes(contract)
        self.registry = registry
        self.contract_hash = schema_hash(contract)
        self.pipeline = pipeline
        self.consumer_group = consumer_group
        self.run_id = run_id
        self.source_uris = source_uris
        self.table_name = table_name_of(sink.table_uri)
        options = sink.storage_options
        self.stage = ContractStage(
            contract, modes=self.modes, registry=registry, options=stage_options, pool=validation_pool
        )
        self.table = DeltaTableWriter(
            sink.table_uri,
            self.stage.table_schema(),
            name=self.table_name,
            storage_options=options,
        )
        self.quarantine = DeltaTableWriter(
            sink.resolved_quarantine_uri,
            QUARANTINE_SCHEMA,
            name=table_name_of(sink.resolved_quarantine_uri),
            storage_options=options,
        )
        self.loads = DeltaTableWriter(sink.resolved_loads_uri, LOADS_SCHEMA, name="_loads", storage_options=options)
        self._progress: _Progress | None = None
        self._recovered: list[LoadRecord] = []

    @property
    def writers(self) -> tuple[DeltaTableWriter, DeltaTableWriter, DeltaTableWriter]:
        """In commit order."""
        return (self.quarantine, self.table, self.loads)

    def open(self) -> None:
        """Create or check the three tables.

        Raises:
            SchemaMismatchError: an existing table's schema differs from the contract's.
            StorageUnavailableError: a location cannot be read or written.
        """
        for writer in self.writers:
            writer.open()
        self.stage.open(self.table.schema)

    def app_id(self, tp: TopicPartition) -> str:
        """The ``txn`` application id of a partition: ``<consumer group>/<table>/<topic>/<partition>``."""
        return transaction_app_id(self.consumer_group, self.table_name, tp)

    def positions(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Per partition, the next offset to consume according to the Delta log (``None``: no table knows it).

        The lowest over the three tables, so a load interrupted between its commits is completed on restart. First
        records in ``_loads`` the loads a crash interrupted whose lowest partition is among ``partitions``
        (:meth:`take_recovered` hands them out).

        Raises:
            StorageUnavailableError: a table's log cannot be read, or ``_loads`` cannot be written.
        """
        partitions = set(partitions)
        self._recovered += record_interrupted_loads(
            quarantine=self.quarantine,
            table=self.table,
            loads=self.loads,
            app_id=self.app_id,
            consumer_group=self.consumer_group,
            table_uri=self.table.uri,
            partitions=partitions,
        )
        for writer in self.writers:
            writer.refresh()
        positions: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            known = [v + 1 for w in self.writers if (v := w.transaction_version(self.app_id(tp))) is not None]
            positions[tp] = min(known) if known else None
        return positions

    def take_recovered(self) -> list[LoadRecord]:
        """The interrupted loads :meth:`positions` recorded since the last call, oldest first (for lineage)."""
        taken, self._recovered = self._recovered, []
        return taken

    def land(self, batch: MicroBatch, *, load_id: str | None = None) -> LoadOutcome:
        """Validate and land one micro-batch: :meth:`commit` of :meth:`prepare`.

        Args:
            batch: the records, per partition in ascending offsets.
            load_id: the load's id (default: a new UUID). Pass the same id when retrying the same batch after an
                error: the retry then completes that load (its ``_loads`` row counts what every attempt appended).

        Returns:
            A :class:`LoadOutcome`; commit its ``next_offsets`` to Kafka after this returns, never before.

        Raises:
            What :meth:`prepare` and :meth:`commit` raise.
        """
        return self.commit(self.prepare(batch, load_id=load_id))

    def prepare(self, batch: MicroBatch, *, load_id: str | None = None) -> PreparedLoad:
        """Validate a micro-batch and build the rows of its three commits, without touching the tables.

        Touches no table (only the contract stage, and the registry when ``evolve`` records a version), so the
        pipeline prepares the next batch while the previous one commits.

        Raises:
            ContractStopError: an event violated a ``freeze`` entity; nothing of the batch may be written.
            QuarantineThresholdError: the batch would quarantine more than the threshold allows.
        """
        started_at = _now()
        try:
            result = self.stage.validate(batch)
        except ContractFrozenError as exc:
            raise ContractStopError.at(
                batch.record(exc.rejection.index),
                exc.args[0].rsplit(", event #", 1)[0],
                "nothing from this event on was committed",
            ) from exc
        except QuarantineThresholdExceeded as exc:
            ranges = ", ".join(f"{tp.topic}[{tp.partition}]@{f}-{l}" for tp, (f, l) in batch.offset_ranges().items())
            raise QuarantineThresholdError.at(
                batch.record(exc.first_index),
                f"load refused for contract {self.contract.__contract__.name!r}: {exc}; nothing of this batch "
                f"({ranges}) was committed; the first quarantined event is",
                "nothing of it was acknowledged",
            ) from exc
        load_id = load_id or uuid.uuid4().hex
        if self._progress is not None and self._progress.load_id == load_id:
            started_at = self._progress.started_at  # a retry of an interrupted load keeps its start
        ingested_at = _now()
        coordinates = batch.coordinates()
        accepted_at = coordinates.take(result.accepted_index)
        rejected_at = coordinates.take([r.index for r in result.rejected])
        landed = append_lineage(
            result.accepted,
            accepted_at,
            load_id=load_id,
            ingested_at=ingested_at,
            source_uris=self.source_uris,
            contract_version=self.stage.version,
        )
        quarantined = quarantine_rows(
            result.rejected,
            batch.record,
            load_id=load_id,
            ingested_at=ingested_at,
            source_uris=self.source_uris,
            contract_hash=self.stage.schema_hash,
            redact=self.stage.redact_payload,
        )
        ranges = batch.offset_ranges()
        draft = self._draft(load_id, batch, ranges, started_at)
        return PreparedLoad(
            batch=batch,
            draft=draft,
            ranges=ranges,
            landed=landed,
            landed_at=accepted_at,
            quarantined=quarantined,
            quarantined_at=rejected_at,
            rejections=tuple(result.rejected),
        )

    def commit(self, prepared: PreparedLoad) -> LoadOutcome:
        """Commit a prepared load: quarantine → table → ``_loads``, each skipping what its ``txn`` says it holds.

        Returns:
            A :class:`LoadOutcome`; commit its ``next_offsets`` to Kafka after this returns, never before.

        Raises:
            StorageUnavailableError: a commit failed; call again with the same ``prepared`` (already committed tables
                skip it). ``CommitConflictError`` (a subclass) after repeated lost commit races.
            SchemaMismatchError: a table refused the batch's schema.
        """
        draft, ranges = prepared.draft, prepared.ranges
        progress = self._progress_of(draft.load_id, draft.started_at)
        metadata = commit_metadata(draft, ranges)
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        quarantine_version = self._commit(
            self.quarantine, prepared.quarantined, prepared.quarantined_at, ranges, metadata
        )
        clock = _lap(timings, "quarantine", clock, committed=quarantine_version is not None)
        table_version = self._commit(self.table, prepared.landed, prepared.landed_at, ranges, metadata)
        _lap(timings, "table", clock, committed=table_version is not None)

        clock = time.perf_counter()
        load, recorded = retry_commit_conflicts(
            lambda: self._record(draft, ranges, prepared.batch, progress, metadata), uri=self.loads.uri
        )
        _lap(timings, "loads", clock, committed=recorded)
        self._progress = None
        next_offsets = {tp: last + 1 for tp, (_, last) in ranges.items()}
        return LoadOutcome(
            load=load,
            next_offsets=next_offsets,
            already_landed=not recorded,
            rejections=prepared.rejections,
            commit_seconds=timings,
        )

    def _commit(
        self,
        writer: DeltaTableWriter,
        rows: pa.Table,
        row_coordinates: Coordinates,
        ranges: dict[TopicPartition, tuple[int, int]],
        metadata: dict[str, str],
    ) -> int | None:
        """Append the rows not yet in ``writer``'s table, with the batch's ``txn`` actions; ``None`` if all were.

        Re-reads the log before each attempt: after losing a commit race, or behind a zombie writer, what the other
        writer landed is left out (the fencing that delta-rs does not do by itself).
        """

        def attempt() -> int | None:
            writer.refresh()
            current = {tp: writer.transaction_version(self.app_id(tp)) for tp in ranges}
            transactions = {
                self.app_id(tp): last for tp, (_, last) in ranges.items() if current[tp] is None or last > current[tp]
            }
            if not transactions:
                return None
            if all(current[tp] is None or current[tp] < first for tp, (first, _) in ranges.items()):
                new_rows = rows  # the usual case: no row of the batch is in the table yet (no per-row check)
            else:
                keep = row_coordinates.beyond(current)
                new_rows = rows if pc.all(keep).as_py() else rows.filter(keep)
            version = writer.append(new_rows, transactions=transactions, metadata=metadata)
            if self._progress is not None:
                self._progress.appended(writer is self.table, version, new_rows.num_rows)
            return version

        return retry_commit_conflicts(attempt, uri=writer.uri)

    def _record(
        self,
        draft: LoadRecord,
        ranges: dict[TopicPartition, tuple[int, int]],
        batch: MicroBatch,
        progress: _Progress,
        metadata: dict[str, str],
    ) -> tuple[LoadRecord, bool]:
        """Append the load's ``_loads`` row unless nothing new is in it; returns the row and whether it was appended.

        The row's ``offsets`` are the batch's ranges beyond what ``_loads`` recorded; its counts are what this load's
        commits appended. Its ``txn`` actions advance ``_loads``' versions to the batch's last offsets.
        """
        self.loads.refresh()
        covered: dict[TopicPartition, tuple[int, int]] = {}
        for tp, (first, last) in ranges.items():
            known = self.loads.transaction_version(self.app_id(tp))
            if known is None or last > known:
                covered[tp] = (first if known is None else max(first, known + 1), last)
        load = replace(
            draft,
            rows_landed=progress.table_rows,
            rows_quarantined=progress.quarantine_rows,
            # The whole batch is new (the usual case): its size is known without a pass over the records.
            bytes=draft.bytes if covered == ranges else sum(r.size for r in batch.records if _covers(covered, r)),
            offsets=tuple(OffsetRange(tp.topic, tp.partition, first, last) for tp, (first, last) in covered.items()),
            delta_version=progress.table_version,
            quarantine_delta_version=progress.quarantine_version,
            committed_at=_now(),
        )
        if not covered and not progress.table_rows and not progress.quarantine_rows:
            return load, False  # a re-delivery: every table held it already
        # An earlier attempt may have committed the row and failed afterwards; a row landed without covering new
        # offsets has no txn to make a second append conflict: look for the id itself.
        if (progress.loads_attempted or not covered) and recorded_load_ids(self.loads, [draft.load_id]):
            return load, True
        progress.loads_attempted = True
        self.loads.append(
            load.to_arrow(),
            transactions={self.app_id(tp): last for tp, (_, last) in covered.items()},
            metadata=metadata,
        )
        return load, True

    def _progress_of(self, load_id: str, started_at: dt.datetime) -> _Progress:
        """The progress of ``load_id``: kept from an earlier failed attempt, or new."""
        if self._progress is None or self._progress.load_id != load_id:
            self._progress = _Progress(load_id=load_id, started_at=started_at)
        return self._progress

    def _draft(
        self, load_id: str, batch: MicroBatch, ranges: dict[TopicPartition, tuple[int, int]], started_at: dt.datetime
    ) -> LoadRecord:
        """The load's ``_loads`` row before its commits (no counts yet): what each commit's metadata describes."""
        info = self.contract.__contract__
        return LoadRecord(
            load_id=load_id,
            run_id=self.run_id,
            pipeline=self.pipeline,
            table_name=self.table_name,
            table_uri=self.table.uri,
            consumer_group=self.consumer_group,
            contract_name=info.name,
            contract_version=self.stage.version,
            contract_hash=self.stage.schema_hash,
            rows_landed=0,
            rows_quarantined=0,
            bytes=batch.size_bytes,
            close_reason=batch.close_reason or "unknown",
            offsets=tuple(OffsetRange(tp.topic, tp.partition, f, l) for tp, (f, l) in ranges.items()),
            delta_version=None,
            quarantine_delta_version=None,
            started_at=started_at,
            committed_at=started_at,
        )


@dataclass(slots=True)
class _Progress:
    """What the attempts of one load appended so far (a retry continues the same load)."""

    load_id: str
    started_at: dt.datetime
    quarantine_rows: int = 0
    table_rows: int = 0
    quarantine_version: int | None = None
    table_version: int | None = None
    loads_attempted: bool = False

    def appended(self, to_table: bool, version: int, rows: int) -> None:
        if to_table:
            self.table_rows += rows
            self.table_version = version
        else:
            self.quarantine_rows += rows
            self.quarantine_version = version


def _lap(timings: dict[str, float], role: str, since: float, *, committed: bool) -> float:
    """Record ``role``'s commit time (when it committed); returns now, the next lap's start."""
    now = time.perf_counter()
    if committed:
        timings[role] = now - since
    return now


def _covers(covered: dict[TopicPartition, tuple[int, int]], record: SourceRecord) -> bool:
    span = covered.get(record.topic_partition)
    return span is not None and span[0] <= record.offset <= span[1]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
