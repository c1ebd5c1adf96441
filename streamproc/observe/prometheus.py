"""Feeding the pipeline metrics of :mod:`streamproc.observe.metrics` from the run's observer hooks.

Counts follow the lake, not the source: ``streamproc_events_landed_total`` and ``streamproc_events_quarantined_total``
add up what each load appended to the table and the quarantine table (as ``_loads`` records it), so after a run they
equal the rows the run added to those tables. Events of a re-delivered range the lake already held are counted as
``redelivered`` only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio
import numpy as np

from contracts import Rejection, schema_hash
from streamproc.errors import CommitConflictError
from streamproc.observe import metrics as m
from streamproc.observe.observer import PipelineObserver, RunInfo
from streamproc.records import TopicPartition

if TYPE_CHECKING:
    from prometheus_client.metrics import Histogram

    from streamproc.batching.batcher import MicroBatch
    from streamproc.lineage.loads import LoadRecord
    from streamproc.observe.summary import RunSummary
    from streamproc.sinks.committer import LoadOutcome

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
    lag gauges (call it periodically: :class:`streamproc.runtime.runner.Runner` does).

    Rows count under the contract version they carry (``_contract_version``: the declared one, or the one ``evolve``
    inferred), and each load whose version differs from the table's previous load counts one schema evolution.
    With routing, each route's table counts its rows under its own contract's labels; the batch's events are
    received (and re-delivered) once, under the pipeline's own contract.

    One instance per :class:`~streamproc.runtime.pipeline.Pipeline`; not reusable across runs.
    """

    def __init__(self) -> None:
        self._pipeline = "unknown"
        self._info: tuple[str, str, str] | None = None
        self._hashes: dict[str, str] = {}
        self._source: _Watermarked | None = None
        self._owned: set[TopicPartition] = set()
        self._next_to_land: dict[TopicPartition, int] = {}

    async def on_start(self, run: RunInfo) -> None:
        info = run.contract.__contract__
        self._pipeline = pipeline = run.config.name
        self._source = run.source if isinstance(run.source, _Watermarked) else None
        self._set_contract_info(info.name, str(info.version), run.contract_hash)
        m.STORAGE_WRITABLE.labels(pipeline).set(1)
        m.ASSIGNED_PARTITIONS.labels(pipeline).set(0)
        if run.open_events is not None:
            m.BATCH_OPEN_EVENTS.labels(pipeline).set_function(run.open_events)  # no cost per event: read when scraped
        if run.contracts is not None:
            tables = [(r.table_name, r.sink.table_uri, r.sink.storage_options, schema_hash(r.contract))
                      for r in run.contracts.routes]
        else:
            tables = [(run.config.sink.table_name, run.tables["table"], run.config.sink.storage_options,
                       run.contract_hash)]
        for name, uri, options, declared in tables:
            # A table's first load is compared with its last one (or, on a new table, with the declared contract
            # it was created from), so a restart on a table that evolved is not an evolution.
            previous = await anyio.to_thread.run_sync(_last_contract_hash, uri, dict(options))
            self._hashes[name] = previous or declared

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        self._owned |= partitions
        m.ASSIGNED_PARTITIONS.labels(self._pipeline).set(len(self._owned))

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        self._owned -= partitions
        m.ASSIGNED_PARTITIONS.labels(self._pipeline).set(len(self._owned))
        for tp in partitions:
            self._next_to_land.pop(tp, None)
            _forget_lag(self._pipeline, tp)

    async def on_loads_recorded(self, rows: int, seconds: float) -> None:
        m.COMMIT_DURATION.labels(self._pipeline, "loads").observe(seconds)

    async def on_load(self, outcome: LoadOutcome, batch: MicroBatch) -> None:
        load, pipeline = outcome.load, self._pipeline
        covered = _covered(load, batch)
        landed_count = int(covered.sum())
        # Events are received once, under the pipeline's own contract; rows count under the version they carry
        # (``_contract_version``: the declared one, or the one ``evolve`` inferred).
        m.EVENTS_RECEIVED.labels(pipeline, load.contract_name, str(load.contract_version)).inc(len(batch))
        m.EVENTS_REDELIVERED.labels(pipeline).inc(len(batch) - landed_count)
        for index, table in enumerate(outcome.tables):
            landed = table.load
            labels = (pipeline, landed.contract_name, str(landed.contract_version))
            m.EVENTS_LANDED.labels(*labels).inc(landed.rows_landed)
            for rejection in table.rejections:  # those this load quarantined (not re-deliveries)
                m.EVENTS_QUARANTINED.labels(*labels, rejection.disposition, reason_class(rejection)).inc()
                if rejection.disposition in ("row_discarded", "value_discarded"):
                    mode = "discard_row" if rejection.disposition == "row_discarded" else "discard_value"
                    m.EVENTS_DISCARDED.labels(*labels, mode).inc()
            if table.already_landed:
                continue
            for role, seconds in table.commit_seconds.items():
                m.COMMIT_DURATION.labels(pipeline, role).observe(seconds)
            if self._hashes.get(landed.table_name, landed.contract_hash) != landed.contract_hash:
                m.SCHEMA_EVOLUTIONS.labels(*labels).inc()
            self._hashes[landed.table_name] = landed.contract_hash
            if index == 0:
                self._set_contract_info(*labels[1:], landed.contract_hash)
        m.STORAGE_WRITABLE.labels(pipeline).set(1)
        if not outcome.already_landed:
            m.BATCHES.labels(pipeline, load.close_reason).inc()
            m.BATCH_EVENTS.labels(pipeline).observe(landed_count)
            m.BATCH_BYTES.labels(pipeline).observe(load.bytes)
            m.LOAD_DURATION.labels(pipeline).observe((load.committed_at - load.started_at).total_seconds())
            m.LAST_COMMIT_TIMESTAMP.labels(pipeline).set(load.committed_at.timestamp())
            latencies = _latencies(batch, covered, load.committed_at.timestamp() * 1000)
            if len(latencies):
                _observe_all(m.END_TO_END_LATENCY.labels(pipeline), latencies)
        for tp, offset in outcome.next_offsets.items():
            if tp in self._owned:
                self._next_to_land[tp] = offset
                self._set_lag(tp, offset)

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        m.BATCH_OPEN_EVENTS.labels(self._pipeline).set_function(lambda: 0)  # the run holds no batch any more

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

    def _set_contract_info(self, contract: str, version: str, hash_: str) -> None:
        """``streamproc_contract_info`` of the version the pipeline's rows land under (one series at a time)."""
        labels = (self._pipeline, contract, version, hash_)
        if labels == self._info:
            return
        if self._info is not None:
            m.CONTRACT_INFO.remove(*self._info)
        m.CONTRACT_INFO.labels(*labels).set(1)
        self._info = labels

    def _set_lag(self, tp: TopicPartition, next_offset: int) -> None:
        if self._source is None:
            return
        try:
            highwater = self._source.highwater(tp)
        except Exception:  # noqa: BLE001 - the source stopped meanwhile
            return
        if highwater is not None:
            m.CONSUMER_LAG.labels(self._pipeline, tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))


def _covered(load: LoadRecord, batch: MicroBatch) -> np.ndarray:
    """Per record of ``batch`` (batch order): whether ``load`` landed its offset (``False``: a re-delivery)."""
    spans = {(r.topic, r.partition): (r.first, r.last) for r in load.offsets}
    parts = []
    for chunk in batch.chunks:
        span = spans.get((chunk.topic, chunk.partition))
        if span is None:
            parts.append(np.zeros(len(chunk), bool))
        else:
            offsets = np.asarray(chunk.offsets, np.int64)
            parts.append((offsets >= span[0]) & (offsets <= span[1]))
    return np.concatenate(parts) if parts else np.zeros(0, bool)


def _latencies(batch: MicroBatch, covered: np.ndarray, committed_ms: float) -> np.ndarray:
    """Seconds from each landed record's source timestamp to the commit (records without a timestamp left out)."""
    parts = []
    for chunk in batch.chunks:
        stamps = chunk.timestamps_ms
        parts.append(np.full(len(chunk), np.nan) if stamps is None else np.array(stamps, np.float64))
    if not parts:
        return np.zeros(0)
    stamps = np.concatenate(parts)[covered]
    stamps = stamps[stamps > 0]  # NaN (no timestamp) compares false
    return np.maximum(0.0, (committed_ms - stamps) / 1000)


def _observe_all(histogram: Histogram, amounts: np.ndarray) -> None:
    """``histogram.observe`` for every amount, in one pass per bucket.

    Tens of thousands of events land per load; prometheus-client observes one value at a time (a lock and a bucket
    scan each, ~1 µs), which would cost as much as validating them. Its documented text output is built from the
    child's bucket counters and sum, which are filled here directly; if a future release renames them, it falls back
    to observing one by one.
    """
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for amount in amounts.tolist():
            histogram.observe(amount)
        return
    # observe() counts each value in the first bucket whose upper bound holds it (buckets are not cumulative).
    per_bucket = np.bincount(np.searchsorted(np.asarray(bounds, np.float64), amounts, side="left"),
                             minlength=len(bounds))
    for bucket, count in zip(buckets, per_bucket.tolist(), strict=False):
        if count:
            bucket.inc(count)
    total.inc(float(amounts.sum()))


def _forget_lag(pipeline: str, tp: TopicPartition) -> None:
    try:
        m.CONSUMER_LAG.remove(pipeline, tp.topic, str(tp.partition))
    except KeyError:
        pass  # never sampled


def _is_conflict(error: BaseException | None) -> bool:
    """Whether a storage retry was a lost commit race (the sink raises :class:`CommitConflictError` for it)."""
    return isinstance(error, CommitConflictError)


def _last_contract_hash(uri: str, storage_options: dict[str, str]) -> str | None:
    """The contract hash the table's newest streamproc commit recorded (``None``: a new table, or unreadable)."""
    from deltalake import DeltaTable

    try:
        table = DeltaTable(uri, storage_options=storage_options or None)
        for commit in table.history(_HISTORY_COMMITS):
            value = commit.get("streamproc.contract_hash")
            if value:
                return str(value)
    except Exception:  # noqa: BLE001 - a metric must not stop the run; the log says why it is missing
        logger.warning("could not read the contract history of %s for schema-evolution metrics", uri, exc_info=True)
    return None
