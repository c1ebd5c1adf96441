"""Feeding the pipeline metrics of :mod:`streamproc.metrics` from the run's observer hooks.

Counts follow the lake, not the source: ``streamproc_events_landed_total`` and ``streamproc_events_quarantined_total``
add up what each load appended to the table and the quarantine table (as ``_loads`` records it), so after a run they
equal the rows the run added to those tables. Events of a re-delivered range the lake already held are counted as
``redelivered`` only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio
from deltalake.exceptions import CommitFailedError

from contracts import Rejection
from streamproc import metrics as m
from streamproc.observers import PipelineObserver, RunInfo
from streamproc.sources.base import SourceRecord, TopicPartition

if TYPE_CHECKING:
    from prometheus_client.metrics import Histogram

    from streamproc.batching.batcher import MicroBatch
    from streamproc.landing import LoadOutcome

__all__ = ["PrometheusObserver", "reason_class"]

logger = logging.getLogger(__name__)

_HISTORY_COMMITS = 20
"""How far back in the table's log to look for the previous load's contract hash (maintenance commits between)."""


@runtime_checkable
class _Watermarked(Protocol):
    """A source that knows each partition's high watermark (Kafka) and its consumer's position."""

    def highwater(self, tp: TopicPartition) -> int | None: ...

    async def position(self, tp: TopicPartition) -> int: ...


def reason_class(rejection: Rejection) -> str:
    """The bounded ``reason`` label of a rejection: for a malformed payload its violation type (``json_invalid``,
    ``utf8_invalid``, ``not_an_object``), otherwise the entity of its first violation (``columns``, ``data_type``)."""
    if not rejection.violations:
        return rejection.disposition
    first = rejection.violations[0]
    return first.type if first.entity == "payload" else str(first.entity)


class PrometheusObserver(PipelineObserver):
    """Updates the ``streamproc_*`` pipeline metrics from one run's hooks; :meth:`sample_lag` refreshes the consumer
    lag gauges (call it periodically: :class:`streamproc.observability.Observability` does).

    One instance per :class:`~streamproc.pipeline.Pipeline`; not reusable across runs.
    """

    def __init__(self) -> None:
        self._pipeline = "unknown"
        self._contract: tuple[str, str] = ("unknown", "0")
        self._source: _Watermarked | None = None
        self._owned: set[TopicPartition] = set()
        self._next_to_land: dict[TopicPartition, int] = {}
        self._evolved = False

    async def on_start(self, run: RunInfo) -> None:
        info = run.contract.__contract__
        self._pipeline = pipeline = run.config.name
        self._contract = (info.name, str(info.version))
        self._source = run.source if isinstance(run.source, _Watermarked) else None
        m.CONTRACT_INFO.labels(pipeline, info.name, str(info.version), run.contract_hash).set(1)
        m.STORAGE_WRITABLE.labels(pipeline).set(1)
        m.ASSIGNED_PARTITIONS.labels(pipeline).set(0)
        previous = await anyio.to_thread.run_sync(_last_contract_hash, run)
        self._evolved = previous is not None and previous != run.contract_hash

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        self._owned |= partitions
        m.ASSIGNED_PARTITIONS.labels(self._pipeline).set(len(self._owned))

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        self._owned -= partitions
        m.ASSIGNED_PARTITIONS.labels(self._pipeline).set(len(self._owned))
        for tp in partitions:
            self._next_to_land.pop(tp, None)
            _forget_lag(self._pipeline, tp)

    async def on_load(self, outcome: LoadOutcome, batch: MicroBatch) -> None:
        load, pipeline = outcome.load, self._pipeline
        contract = (pipeline, *self._contract)
        spans = {(r.topic, r.partition): (r.first, r.last) for r in load.offsets}
        covered = [_within(spans, record) for record in batch.records]
        m.EVENTS_RECEIVED.labels(*contract).inc(len(batch.records))
        m.EVENTS_REDELIVERED.labels(pipeline).inc(covered.count(False))
        m.EVENTS_LANDED.labels(*contract).inc(load.rows_landed)
        for rejection in outcome.rejections:
            if not covered[rejection.index]:
                continue
            m.EVENTS_QUARANTINED.labels(*contract, rejection.disposition, reason_class(rejection)).inc()
            if rejection.disposition in ("row_discarded", "value_discarded"):
                mode = "discard_row" if rejection.disposition == "row_discarded" else "discard_value"
                m.EVENTS_DISCARDED.labels(*contract, mode).inc()
        m.STORAGE_WRITABLE.labels(pipeline).set(1)
        if not outcome.already_landed:
            m.BATCHES.labels(pipeline, load.close_reason).inc()
            m.BATCH_EVENTS.labels(pipeline).observe(covered.count(True))
            m.BATCH_BYTES.labels(pipeline).observe(load.bytes)
            m.LOAD_DURATION.labels(pipeline).observe((load.committed_at - load.started_at).total_seconds())
            for role, seconds in outcome.commit_seconds.items():
                m.COMMIT_DURATION.labels(pipeline, role).observe(seconds)
            m.LAST_COMMIT_TIMESTAMP.labels(pipeline).set(load.committed_at.timestamp())
            if self._evolved:
                self._evolved = False
                m.SCHEMA_EVOLUTIONS.labels(*contract).inc()
            committed_ms = load.committed_at.timestamp() * 1000
            landed = [r for r, inside in zip(batch.records, covered, strict=True) if inside]
            # Tens of thousands of observations per batch: off the event loop, so probes and fetches stay prompt.
            await anyio.to_thread.run_sync(_observe_latencies, m.END_TO_END_LATENCY.labels(pipeline), landed,
                                           committed_ms)
        for tp, offset in outcome.next_offsets.items():
            if tp in self._owned:
                self._next_to_land[tp] = offset
                self._set_lag(tp, offset)

    async def on_storage_retry(self, error: BaseException, attempt: int) -> None:
        conflict = _is_conflict(error)
        m.COMMIT_RETRIES.labels(self._pipeline, "conflict" if conflict else "storage").inc()
        if conflict:
            m.COMMIT_CONFLICTS.labels(self._pipeline).inc()
        else:
            m.STORAGE_WRITABLE.labels(self._pipeline).set(0)

    async def sample_lag(self) -> None:
        """Set ``streamproc_consumer_lag_records`` of every owned partition from the source's high watermark.

        The next offset to land is known from the last load of a partition; before its first load the consumer's
        position stands in (the Delta log's position right after assignment, then ahead by what is buffered).
        """
        source = self._source
        if source is None:
            return
        for tp in sorted(self._owned):
            offset = self._next_to_land.get(tp)
            if offset is None:
                try:
                    offset = await source.position(tp)
                except Exception:  # noqa: BLE001 - revoked meanwhile, or not yet positioned: sample next time
                    continue
            if tp in self._owned:
                self._set_lag(tp, offset)

    def _set_lag(self, tp: TopicPartition, next_offset: int) -> None:
        if self._source is None:
            return
        try:
            highwater = self._source.highwater(tp)
        except Exception:  # noqa: BLE001 - the source stopped meanwhile
            return
        if highwater is not None:
            m.CONSUMER_LAG.labels(self._pipeline, tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))


def _within(spans: dict[tuple[str, int], tuple[int, int]], record: SourceRecord) -> bool:
    span = spans.get((record.topic, record.partition))
    return span is not None and span[0] <= record.offset <= span[1]


def _observe_latencies(histogram: Histogram, records: Sequence[SourceRecord], committed_ms: float) -> None:
    for record in records:
        if record.timestamp_ms is not None and record.timestamp_ms > 0:
            histogram.observe(max(0.0, (committed_ms - record.timestamp_ms) / 1000))


def _forget_lag(pipeline: str, tp: TopicPartition) -> None:
    try:
        m.CONSUMER_LAG.remove(pipeline, tp.topic, str(tp.partition))
    except KeyError:
        pass  # never sampled


def _is_conflict(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, CommitFailedError) or type(error).__name__ == "CommitConflictError":
            return True
        error = error.__cause__
    return False


def _last_contract_hash(run: RunInfo) -> str | None:
    """The contract hash the table's newest streamproc commit recorded (``None``: a new table, or unreadable)."""
    from deltalake import DeltaTable

    try:
        table = DeltaTable(run.tables["table"], storage_options=dict(run.config.sink.storage_options) or None)
        for commit in table.history(_HISTORY_COMMITS):
            value = commit.get("streamproc.contract_hash")
            if value:
                return str(value)
    except Exception:  # noqa: BLE001 - a metric must not stop the run; the log says why it is missing
        logger.warning("could not read the contract history of %s for schema-evolution metrics",
                       run.tables.get("table"), exc_info=True)
    return None
