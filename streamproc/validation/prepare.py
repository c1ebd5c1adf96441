"""The preparer: a closed micro-batch into the rows of its commits, validated, without touching a table.

```
 MicroBatch ─► (routing: split by route, validation/routing.py) ─► per route: ContractStage.validate
     ─► accepted rows + lineage columns (lineage/columns.py)  ─┐
     ─► rejections → quarantine rows (sinks/quarantine.py)    ─┴► PreparedShare ─► PreparedLoad (sinks/committer.py)
```

Concurrency: :meth:`LoadPreparer.prepare` runs in a worker thread beside the committer's commit of the previous load
(the pipeline's prepare and commit stages overlap) and touches no table: only the contract stage, and the registry
when ``evolve`` records an inferred version (the registry serialises its own writes). One prepare at a time: the
pipeline's prepare stage is a single task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from contracts import ContractFrozenError, schema_hash
from contracts.collector import collector_paused
from contracts.threshold import QuarantineThresholdExceeded
from streamproc.batching.batcher import MicroBatch
from streamproc.config.resolve import Route
from streamproc.errors import ContractStopError, QuarantineThresholdError
from streamproc.lineage.columns import append_lineage
from streamproc.lineage.loads import LoadRecord, OffsetRange
from streamproc.sinks.committer import PreparedLoad, PreparedShare
from streamproc.sinks.quarantine import quarantine_rows
from streamproc.records import TopicPartition
from streamproc.validation.routing import Router
from streamproc.validation.stage import ContractStage

__all__ = ["LoadPreparer", "TablePreparer"]


class TablePreparer:
    """Prepares one route's share of a batch: its contract stage, lineage columns and quarantine rows.

    Args:
        route: the route (contract, modes, table).
        stage: its contract stage (upcasting, validation, PII, evolution).
        pipeline, consumer_group, run_id: what every ``_loads`` row and commit names.
        source_uris: topic → ``_source`` lineage value.
    """

    def __init__(
        self,
        route: Route,
        stage: ContractStage,
        *,
        pipeline: str,
        consumer_group: str,
        run_id: str,
        source_uris: dict[str, str],
    ) -> None:
        self.route = route
        self.stage = stage
        self.pipeline = pipeline
        self.consumer_group = consumer_group
        self.run_id = run_id
        self.source_uris = source_uris
        self.contract_hash = schema_hash(route.contract)

    def prepare(
        self, batch: MicroBatch, *, load_id: str, ranges: dict[TopicPartition, tuple[int, int]], started_at: dt.datetime
    ) -> PreparedShare:
        """Validate ``batch`` (this route's records) and build its commits' rows; ``ranges`` are the whole batch's.

        Raises:
            ContractStopError: an event violated a ``freeze`` entity; nothing of the batch may be written.
            QuarantineThresholdError: the batch would quarantine more than the threshold allows.
        """
        try:
            result = self.stage.validate(batch)
        except ContractFrozenError as exc:
            raise ContractStopError.frozen(exc, batch.record(exc.rejection.index)) from exc
        except QuarantineThresholdExceeded as exc:
            spans = ", ".join(f"{tp.topic}[{tp.partition}]@{f}-{l}" for tp, (f, l) in ranges.items())
            raise QuarantineThresholdError.at(
                batch.record(exc.first_index),
                f"load refused for contract {self.route.contract.__contract__.name!r}: {exc}; nothing of this batch "
                f"({spans}) was committed; the first quarantined event is",
                "nothing of it was acknowledged",
            ) from exc
        ingested_at = dt.datetime.now(dt.UTC)
        coordinates = batch.coordinates()
        accepted_at = coordinates.take(result.accepted_index)
        rejected = [r.index for r in result.rejected]
        rejected_at = coordinates.take(rejected)
        landed = append_lineage(
            result.accepted,
            sources=accepted_at.sources(self.source_uris),
            partitions=accepted_at.partitions,
            offsets=accepted_at.offsets,
            load_id=load_id,
            ingested_at=ingested_at,
            contract_version=self.stage.version,
        )
        quarantined = quarantine_rows(
            result.rejected,
            batch.records_at(rejected),
            rejected_at,
            load_id=load_id,
            ingested_at=ingested_at,
            source_uris=self.source_uris,
            contract_hash=self.stage.schema_hash,
            redact=self.stage.redact_payload,
        )
        return PreparedShare(
            table_name=self.route.table_name,
            draft=self._draft(load_id, batch, ranges, started_at),
            landed=landed,
            landed_at=accepted_at,
            quarantined=quarantined,
            quarantined_at=rejected_at,
            rejections=tuple(result.rejected),
            batch=batch,
        )

    def _draft(
        self, load_id: str, batch: MicroBatch, ranges: dict[TopicPartition, tuple[int, int]], started_at: dt.datetime
    ) -> LoadRecord:
        """The share's ``_loads`` row before its commits (no counts yet): what each commit's metadata describes."""
        return LoadRecord(
            load_id=load_id,
            run_id=self.run_id,
            pipeline=self.pipeline,
            table_name=self.route.table_name,
            table_uri=self.route.sink.table_uri,
            consumer_group=self.consumer_group,
            contract_name=self.route.contract.__contract__.name,
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


class LoadPreparer:
    """Prepares a micro-batch for every table of a pipeline: the whole batch to the pipeline's own table, or, with
    routing, each route's share (:class:`~streamproc.validation.routing.Router`) to its table.

    Args:
        tables: one per route, the pipeline's own first (the router's order).
        router: splits batches by route; ``None`` without routing.
    """

    def __init__(self, tables: Sequence[TablePreparer], *, router: Router | None = None) -> None:
        if router is not None and len(router.values) != len(tables) - 1:
            raise ValueError("a routed preparer needs one table preparer per route and the default's")
        self.tables = tuple(tables)
        self.router = router

    def prepare(self, batch: MicroBatch, *, load_id: str) -> PreparedLoad:
        """Validate a micro-batch and build the rows of every commit, without touching a table.

        Args:
            batch: the records, per partition in ascending offsets.
            load_id: the load's id; pass the same id when preparing the same batch again after an error (the commit
                then completes that load). Routes' shares get ``<load_id>-<n>``.

        Raises:
            ContractStopError: an event violated a ``freeze`` entity (or, with routing, is of a type no route
                declares under ``tables: freeze``); nothing of the batch may be written.
            QuarantineThresholdError: the batch would quarantine more than the threshold allows.
        """
        started_at = dt.datetime.now(dt.UTC)
        ranges = batch.offset_ranges()
        # The batch-long lists of a prepare (payloads, positions) hold no cycles; left to the cyclic collector, each
        # of its young-generation passes would visit all of them again (~20 ms of a 200,000-event run).
        with collector_paused():
            parts = [batch] if self.router is None else self.router.split(batch)
            shares = tuple(
                table.prepare(part, load_id=f"{load_id}-{index}" if index else load_id, ranges=ranges,
                              started_at=started_at)
                for index, (table, part) in enumerate(zip(self.tables, parts, strict=True))
            )
        return PreparedLoad(batch=batch, ranges=ranges, shares=shares)
