"""Landing a micro-batch: validate, then commit the quarantine table, the table and ``_loads``, exactly once.

The exactly-once core, after kafka-delta-ingest: each commit carries one ``txn`` action per (consumer group, table,
topic, partition) whose version is the last offset the commit covers. Before each commit the table's current
``txn`` versions are read and every row at or below them is left out, so an offset range already in a table is never
landed twice (a re-delivery after a crash, or a fenced zombie writer). On partition assignment the consumer seeks to
:meth:`Lander.positions`: the Delta log, not Kafka, says where to resume.

Commit order per load: quarantine → table → ``_loads``. Each table is committed for every load (an empty commit
still records the ``txn``), so their versions never fall behind each other by more than one load, and a restart
resumes from the lowest.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
import time
from dataclasses import dataclass, field

import pyarrow as pa

from contracts import Contract, ContractFrozenError, Rejection, contract_arrow_schema, schema_hash, validate_batch
from streamproc.batching.batcher import MicroBatch
from streamproc.contract_stage import ContractStage
from streamproc.config import SinkConfig
from streamproc.errors import ContractStopError, QuarantineThresholdError
from streamproc.lineage.columns import append_lineage, with_lineage_schema
from streamproc.lineage.loads import LOADS_SCHEMA, LoadRecord, OffsetRange
from contracts.modes import ResolvedModes, resolve_modes
from contracts.registry import ContractRegistry
from contracts.threshold import QuarantineThreshold, QuarantineThresholdExceeded
from streamproc.sinks.delta import DeltaTableWriter
from streamproc.sinks.quarantine import QUARANTINE_SCHEMA, quarantine_rows
from streamproc.sources.base import SourceRecord, TopicPartition

__all__ = ["Lander", "LoadOutcome", "table_name_of"]


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
    """

    load: LoadRecord
    next_offsets: dict[TopicPartition, int]
    already_landed: bool
    rejections: tuple[Rejection, ...] = ()
    commit_seconds: dict[str, float] = field(default_factory=dict)


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
        quarantine_threshold: QuarantineThreshold | None = None,
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
            contract, modes=self.modes, registry=registry, quarantine_threshold=quarantine_threshold
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
        return f"{self.consumer_group}/{self.table_name}/{tp.topic}/{tp.partition}"

    def positions(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Per partition, the next offset to consume according to the Delta log (``None``: no table knows it).

        The lowest over the three tables, so a load interrupted between its commits is completed on restart.
        """
        for writer in self.writers:
            writer.refresh()
        positions: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            known = [v + 1 for w in self.writers if (v := w.transaction_version(self.app_id(tp))) is not None]
            positions[tp] = min(known) if known else None
        return positions

    def land(self, batch: MicroBatch) -> LoadOutcome:
        """Validate and land one micro-batch.

        Returns:
            A :class:`LoadOutcome`; commit its ``next_offsets`` to Kafka after this returns, never before.

        Raises:
            ContractStopError: an event violated a ``freeze`` entity; nothing of the batch was written.
            StorageUnavailableError: a commit failed; retry the same batch (already committed tables skip it).
            SchemaMismatchError: a table refused the batch's schema.
        """
        started_at = _now()
        records = batch.records
        try:
            result = self.stage.validate([r.value for r in records])
        except ContractFrozenError as exc:
            record = records[exc.rejection.index]
            raise ContractStopError(
                f"{exc.args[0].rsplit(', event #', 1)[0]} at {record.topic}[{record.partition}]@{record.offset}; "
                "nothing from this event on was committed",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            ) from exc
        except QuarantineThresholdExceeded as exc:
            record = records[exc.first_index]
            raise QuarantineThresholdError(
                f"load refused for contract {self.contract.__contract__.name!r}: {exc}; nothing of this batch "
                f"({', '.join(f'{tp.topic}[{tp.partition}]@{f}-{l}' for tp, (f, l) in batch.offset_ranges().items())})"
                f" was committed; the first quarantined event is at {record.topic}[{record.partition}]@{record.offset}",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            ) from exc
        load_id = uuid.uuid4().hex
        ingested_at = _now()
        accepted_records = [records[i] for i in result.accepted_index]
        rejected_records = [records[r.index] for r in result.rejected]
        landed = append_lineage(
            result.accepted,
            accepted_records,
            load_id=load_id,
            ingested_at=ingested_at,
            source_uris=self.source_uris,
            contract_version=self.stage.version,
        )
        quarantined = quarantine_rows(
            result.rejected,
            records,
            load_id=load_id,
            ingested_at=ingested_at,
            source_uris=self.source_uris,
            contract_hash=self.stage.schema_hash,
        )
        ranges = batch.offset_ranges()
        metadata = self._commit_metadata(load_id, ranges)
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        quarantine_version = self._commit(self.quarantine, quarantined, rejected_records, ranges, metadata)
        clock = _lap(timings, "quarantine", clock, committed=quarantine_version is not None)
        table_version = self._commit(self.table, landed, accepted_records, ranges, metadata)
        _lap(timings, "table", clock, committed=table_version is not None)

        covered = self._uncovered(ranges)
        load = LoadRecord(
            load_id=load_id,
            run_id=self.run_id,
            pipeline=self.pipeline,
            table_name=self.table_name,
            table_uri=self.table.uri,
            consumer_group=self.consumer_group,
            contract_name=self.contract.__contract__.name,
            contract_version=self.stage.version,
            contract_hash=self.stage.schema_hash,
            rows_landed=_count_in(accepted_records, covered),
            rows_quarantined=_count_in(rejected_records, covered),
            bytes=sum(r.size for r in records if _covers(covered, r)),
            close_reason=batch.close_reason or "unknown",
            offsets=tuple(OffsetRange(tp.topic, tp.partition, first, last) for tp, (first, last) in covered.items()),
            delta_version=table_version if table_version is not None else self.table.table.version(),
            quarantine_delta_version=(
                quarantine_version if quarantine_version is not None else self.quarantine.table.version()
            ),
            started_at=started_at,
            committed_at=_now(),
        )
        if covered:
            clock = time.perf_counter()
            self.loads.append(
                load.to_arrow(),
                transactions={self.app_id(tp): last for tp, (_, last) in covered.items()},
                metadata=metadata,
            )
            _lap(timings, "loads", clock, committed=True)
        next_offsets = {tp: last + 1 for tp, (_, last) in ranges.items()}
        return LoadOutcome(
            load=load,
            next_offsets=next_offsets,
            already_landed=not covered,
            rejections=tuple(result.rejected),
            commit_seconds=timings,
        )

    def _commit(
        self,
        writer: DeltaTableWriter,
        rows: pa.Table,
        row_records: Sequence[SourceRecord],
        ranges: dict[TopicPartition, tuple[int, int]],
        metadata: dict[str, str],
    ) -> int | None:
        """Append the rows not yet in ``writer``'s table, with the batch's ``txn`` actions; ``None`` if all were."""
        writer.refresh()
        current = {tp: writer.transaction_version(self.app_id(tp)) for tp in ranges}
        transactions = {
            self.app_id(tp): last for tp, (_, last) in ranges.items() if current[tp] is None or last > current[tp]
        }
        if not transactions:
            return None
        keep = [current[r.topic_partition] is None or r.offset > current[r.topic_partition] for r in row_records]
        if not all(keep):
            rows = rows.filter(pa.array(keep, pa.bool_()))
        return writer.append(rows, transactions=transactions, metadata=metadata)

    def _uncovered(self, ranges: dict[TopicPartition, tuple[int, int]]) -> dict[TopicPartition, tuple[int, int]]:
        """The part of each partition's range that ``_loads`` does not record yet."""
        self.loads.refresh()
        covered: dict[TopicPartition, tuple[int, int]] = {}
        for tp, (first, last) in ranges.items():
            known = self.loads.transaction_version(self.app_id(tp))
            if known is None or last > known:
                covered[tp] = (first if known is None else max(first, known + 1), last)
        return covered

    def _commit_metadata(self, load_id: str, ranges: dict[TopicPartition, tuple[int, int]]) -> dict[str, str]:
        info = self.contract.__contract__
        return {
            "streamproc.load_id": load_id,
            "streamproc.run_id": self.run_id,
            "streamproc.pipeline": self.pipeline,
            "streamproc.contract_name": info.name,
            "streamproc.contract_version": str(self.stage.version),
            "streamproc.contract_hash": self.stage.schema_hash,
            "streamproc.offsets": json.dumps(
                [{"topic": tp.topic, "partition": tp.partition, "first": f, "last": l} for tp, (f, l) in ranges.items()]
            ),
        }


def _lap(timings: dict[str, float], role: str, since: float, *, committed: bool) -> float:
    """Record ``role``'s commit time (when it committed); returns now, the next lap's start."""
    now = time.perf_counter()
    if committed:
        timings[role] = now - since
    return now


def _covers(covered: dict[TopicPartition, tuple[int, int]], record: SourceRecord) -> bool:
    span = covered.get(record.topic_partition)
    return span is not None and span[0] <= record.offset <= span[1]


def _count_in(records: Sequence[SourceRecord], covered: dict[TopicPartition, tuple[int, int]]) -> int:
    return sum(1 for r in records if _covers(covered, r))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
