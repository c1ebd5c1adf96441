"""The Delta committer: a prepared load into its tables, exactly once, and where each partition resumes.

```
 PreparedLoad (validation/prepare.py: one share per route's table) ─► Committer.commit
     per route:  <table>__quarantine ┐
                 <table>             ┴─► _loads (one row per route's load)
```

The quarantine table's commit runs beside the table's (in the committer's one side thread: delta-rs encodes and
writes Parquet outside the GIL), ``_loads`` after both, since its row names their versions and counts.

``_loads`` rows may be recorded in groups: with ``record_every`` above 1 a load's row waits (in memory,
:mod:`streamproc.sinks.waiting_loads`) until that many rows wait or the oldest has waited ``record_within_seconds``,
and then every waiting row goes into one ``_loads`` commit. Waiting rows are recorded before positions are read
(:meth:`Committer.positions`, :meth:`Committer.landed`), and the pipeline records them when its commit stage falls
idle, on a revocation and when it stops (runtime/checkpoint.py). The data tables and the offsets committed to the
source never wait for ``_loads``.

Each table is committed for every load, even with no rows (the commit still records the ``txn`` versions), so the
tables' versions never fall behind each other by more than one load and a restart resumes from the lowest
(:mod:`streamproc.sinks.txn`, the one home of the protocol: app ids, the fence before each commit, resuming,
recovery). A load keeps its id across retries of the same prepared load: a retry after a failed commit completes
the load (its ``_loads`` row counts what every attempt appended) instead of starting another. Commits that lose to a
concurrent writer are retried after re-reading the log (:func:`streamproc.sinks.delta.retry_commit_conflicts`).

Concurrency: blocking I/O, and one call at a time: :meth:`Committer.open`, :meth:`Committer.positions` and
:meth:`Committer.commit` run in a worker thread, under the pipeline's landing lock (runtime/ownership.py), so a
commit never overlaps an assignment's position read or recovery. The committer talks to the tables only through
the sink seam (:class:`~streamproc.sinks.table.TransactionalTable`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc

from contracts import Rejection
from streamproc.batching.batcher import MicroBatch
from streamproc.batching.coordinates import Coordinates
from streamproc.lineage.loads import LoadRecord, OffsetRange, commit_metadata
from streamproc.sinks.delta import retry_commit_conflicts
from streamproc.sinks.table import TransactionalTable
from streamproc.sinks.txn import (
    Ranges,
    RouteTables,
    fence,
    record_interrupted_loads,
    recorded_load_ids,
    resume_positions,
    uncovered,
)
from streamproc.sinks.waiting_loads import WaitingLoads
from streamproc.records import SourceRecord, TopicPartition

_Appended = tuple[tuple[int, pa.Array | None] | None, float]
"""A data table's commit: (new version, rows kept or ``None`` for all) or ``None`` when it held every offset, and
the seconds it took."""

__all__ = ["Committer", "LoadOutcome", "PreparedLoad", "PreparedShare", "TableLoad"]


@dataclass(frozen=True, slots=True)
class PreparedShare:
    """One route's share of a prepared load: the rows of its quarantine and table commits and its ``_loads`` draft.

    Attributes:
        table_name: the route's table (which of the committer's :class:`RouteTables`).
        draft: its ``_loads`` row before the commits (counts and versions not yet known): id, start, contract
            version and hash as validation left them.
        landed, landed_at: the accepted rows with their lineage columns, and their source coordinates.
        quarantined, quarantined_at: one quarantine row per rejection, and their source coordinates.
        rejections: every rejection (every violation), aligned with ``quarantined``.
        batch: the share's records (the whole batch without routing).
    """

    table_name: str
    draft: LoadRecord
    landed: pa.Table
    landed_at: Coordinates
    quarantined: pa.Table
    quarantined_at: Coordinates
    rejections: tuple[Rejection, ...]
    batch: MicroBatch


@dataclass(frozen=True, slots=True)
class PreparedLoad:
    """A validated micro-batch with the rows of every commit built, not yet committed.

    Attributes:
        batch: the micro-batch.
        ranges: per partition, the batch's first and last offsets (every table records them).
        shares: one per route, the pipeline's own table first.
    """

    batch: MicroBatch
    ranges: dict[TopicPartition, tuple[int, int]]
    shares: tuple[PreparedShare, ...]

    @property
    def load_id(self) -> str:
        return self.shares[0].draft.load_id


@dataclass(frozen=True, slots=True)
class TableLoad:
    """What a commit did to one route's tables.

    Attributes:
        load: the load's ``_loads`` row (appended unless ``already_landed``).
        already_landed: every offset was in the tables already (a re-delivery); nothing was written.
        events: the share's records within ``load.offsets`` (a route's events of this load; with routing, a load's
            offsets span every route's records).
        rejections: the rejections whose quarantine rows this load appended (every violation).
        commit_seconds: per table role (``quarantine``, ``table``, ``loads``) the seconds its commit took (reading
            the log, filtering, writing, committing); a role is absent when nothing was committed to it.
    """

    load: LoadRecord
    already_landed: bool
    events: int = 0
    rejections: tuple[Rejection, ...] = ()
    commit_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoadOutcome:
    """What :meth:`Committer.commit` did.

    Attributes:
        tables: one per route's table, the pipeline's own first.
        next_offsets: per partition, the offset after the last one now landed: what to commit to Kafka.
    """

    tables: tuple[TableLoad, ...]
    next_offsets: dict[TopicPartition, int]

    @property
    def load(self) -> LoadRecord:
        """The load of the pipeline's own table."""
        return self.tables[0].load

    @property
    def already_landed(self) -> bool:
        """Every table held every offset already: nothing was written."""
        return all(t.already_landed for t in self.tables)


@dataclass(slots=True)
class _Progress:
    """What the attempts of one load appended to one route's tables so far (a retry continues the same load)."""

    load_id: str
    quarantine_rows: int = 0
    table_rows: int = 0
    quarantine_version: int | None = None
    table_version: int | None = None
    rejections: list[Rejection] = field(default_factory=list)


class Committer:
    """Commits prepared loads into the tables of every route of one pipeline (see the module docstring).

    Args:
        routes: each route's tables, the pipeline's own first (``_loads`` shared).
        record_every: how many loads' ``_loads`` rows one ``_loads`` commit holds at most (1: each load records its
            own row in its commit, the default).
        record_within_seconds: how long a row waits for its group at most, counted from its load's commit
            (checked at each commit; :meth:`record_loads` records waiting rows at any time).

    Lifecycle: construct → :meth:`open` → :meth:`positions` / :meth:`commit` / :meth:`record_loads` (one call at a
    time).
    """

    def __init__(
        self, routes: Sequence[RouteTables], *, record_every: int = 1, record_within_seconds: float = 1.0
    ) -> None:
        if not routes:
            raise ValueError("a committer needs at least one route's tables")
        self.routes = {r.table_name: r for r in routes}
        self._waiting = WaitingLoads(record_every=record_every, record_within_seconds=record_within_seconds)
        self._progress: dict[str, _Progress] = {}
        self._recovered: list[LoadRecord] = []
        # One thread for the quarantine commit beside the table's (started on first use; it ends with the committer).
        self._side = ThreadPoolExecutor(1, thread_name_prefix="quarantine-commit")

    @property
    def tables(self) -> tuple[TransactionalTable, ...]:
        """Every distinct table, in commit order per route, ``_loads`` once (after the first route's)."""
        return tuple({t.uri: t for r in self.routes.values() for t in r.in_commit_order}.values())

    def open(self) -> None:
        """Create or check every table, side by side (delta-rs reads and writes the logs outside the GIL: a
        pipeline's tables open in the time of its slowest one).

        Raises:
            SchemaMismatchError: an existing table's schema differs from the contract's (the first table in commit
                order that fails, once every table has been tried).
            StorageUnavailableError: a location cannot be read or written.
        """
        tables = self.tables
        # At most eight at once: a pipeline with many routes has two tables per route.
        with ThreadPoolExecutor(min(len(tables), 8), thread_name_prefix="table-open") as opening:
            opened = [opening.submit(table.open) for table in tables]
        for each in opened:
            each.result()

    def positions(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Per partition, the next offset to consume according to the Delta log (``None``: no table knows it): the
        lowest over every table of every route (:func:`streamproc.sinks.txn.resume_positions`).

        First records in ``_loads`` the loads a crash interrupted whose lowest partition is among ``partitions``
        (:meth:`take_recovered` hands them out).

        Raises:
            StorageUnavailableError: a table's log cannot be read, or ``_loads`` cannot be written.
        """
        partitions = set(partitions)
        # Before recovery looks for loads without a _loads row: it would record the waiting ones a second time.
        self.record_loads()
        for route in self.routes.values():
            self._recovered += record_interrupted_loads(route, partitions)
        return resume_positions(list(self.routes.values()), partitions)

    def landed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Per partition, where it resumes according to the Delta log now, whoever landed it (no recovery).

        Records the waiting ``_loads`` rows first: ``_loads`` counts in the lowest version.

        Raises:
            StorageUnavailableError: a table's log cannot be read, or ``_loads`` cannot be written.
        """
        self.record_loads()
        return resume_positions(list(self.routes.values()), partitions)

    @property
    def unrecorded(self) -> int:
        """How many loads' ``_loads`` rows wait for their group's commit."""
        return len(self._waiting)

    def record_loads(self) -> int:
        """Append every waiting ``_loads`` row, one commit per ``_loads`` table
        (:meth:`streamproc.sinks.waiting_loads.WaitingLoads.record`).

        Returns:
            How many rows were appended.

        Raises:
            StorageUnavailableError: ``_loads`` cannot be written (the rows keep waiting; call again).
            ``CommitConflictError`` (a subclass) after repeated lost commit races.
        """
        return self._waiting.record()

    def forget_unrecorded(self, partitions: Iterable[TopicPartition]) -> int:
        """Drop the waiting rows of loads whose lowest partition is among ``partitions`` (revoked while ``_loads``
        could not be written: their new owner records them from the data tables' commits, as after a crash).
        Returns how many were dropped."""
        return self._waiting.forget(partitions)

    def take_recovered(self) -> list[LoadRecord]:
        """The interrupted loads :meth:`positions` recorded since the last call, oldest first (for lineage)."""
        taken, self._recovered = self._recovered, []
        return taken

    def commit(self, prepared: PreparedLoad) -> LoadOutcome:
        """Commit every share, route after route: quarantine and table side by side, then ``_loads``, each leaving out
        what its ``txn`` versions say it holds.

        The load's ``_loads`` rows wait for their group (``record_every``); when the group is due, every waiting row
        is appended here, and its seconds count as the ``loads`` role's of this load's first table.

        Returns:
            A :class:`LoadOutcome`; commit its ``next_offsets`` to Kafka after this returns, never before.

        Raises:
            StorageUnavailableError: a commit failed; call again with the same ``prepared`` (what is committed is
                skipped). ``CommitConflictError`` (a subclass) after repeated lost commit races.
            SchemaMismatchError: a table refused the batch's schema.
        """
        loads = tuple(self._commit_share(share, prepared.ranges) for share in prepared.shares)
        if self._waiting.due():
            clock = time.perf_counter()
            self.record_loads()
            loads[0].commit_seconds["loads"] = time.perf_counter() - clock
        for share in prepared.shares:
            self._progress.pop(share.table_name, None)
        return LoadOutcome(loads, {tp: last + 1 for tp, (_, last) in prepared.ranges.items()})

    def _commit_share(self, share: PreparedShare, ranges: Ranges) -> TableLoad:
        route = self.routes[share.table_name]
        progress = self._progress.get(share.table_name)
        if progress is None or progress.load_id != share.draft.load_id:
            progress = self._progress[share.table_name] = _Progress(share.draft.load_id)
        metadata = commit_metadata(share.draft, ranges)
        timings: dict[str, float] = {}

        def commit_to(table: TransactionalTable, rows: pa.Table, coordinates: Coordinates) -> _Appended:
            clock = time.perf_counter()
            appended = retry_commit_conflicts(
                lambda: _append(table, route, rows, coordinates, ranges, metadata), uri=table.uri
            )
            return appended, time.perf_counter() - clock

        # The two data tables are independent (resuming takes the lower of their versions, whichever committed
        # first), and delta-rs writes Parquet outside the GIL: the quarantine commit runs beside the table's.
        quarantine = self._side.submit(commit_to, route.quarantine, share.quarantined, share.quarantined_at)
        failure: BaseException | None = None
        try:
            table = commit_to(route.table, share.landed, share.landed_at)
        except BaseException as exc:  # the quarantine commit may still succeed: record it before raising
            failure, table = exc, None
        try:
            quarantined = quarantine.result()
        except BaseException as exc:
            failure, quarantined = failure or exc, None
        if table is not None and table[0] is not None:  # None: the table held every offset
            (version, keep), timings["table"] = table
            progress.table_rows += share.landed.num_rows if keep is None else _kept(keep)
            progress.table_version = version
        if quarantined is not None and quarantined[0] is not None:
            (version, keep), timings["quarantine"] = quarantined
            progress.quarantine_rows += share.quarantined.num_rows if keep is None else _kept(keep)
            progress.quarantine_version = version
            kept = keep.to_pylist() if keep is not None else None
            progress.rejections += [r for i, r in enumerate(share.rejections) if kept is None or kept[i]]
        if failure is not None:
            raise failure
        # Both data tables held every offset: a re-delivery, whatever _loads says (its rows may wait for their group).
        held = all(result is not None and result[0] is None for result in (table, quarantined))
        load, recorded, events = self._record(share, route, ranges, progress, metadata, held=held)
        return TableLoad(load, not recorded, events, tuple(progress.rejections), timings)

    def _record(
        self,
        share: PreparedShare,
        route: RouteTables,
        ranges: Ranges,
        progress: _Progress,
        metadata: dict[str, str],
        *,
        held: bool,
    ) -> tuple[LoadRecord, bool, int]:
        """Queue the share's ``_loads`` row unless nothing new is in it; returns the row, whether it is recorded
        (or waits to be), and how many of the share's records it covers. Its ``offsets`` are the batch's ranges
        beyond what ``_loads`` recorded or waits to record; its counts are what this load's commits appended; its
        ``txn`` actions advance ``_loads``' versions to the batch's last offsets."""
        route.loads.refresh()  # another writer (this member a zombie) may have recorded these offsets meanwhile
        covered = self._waiting.beyond(route, uncovered(route.loads, route, ranges))
        draft = share.draft
        # The whole batch is new (the usual case): its size and count are known without a pass over the records.
        new = None if covered == dict(ranges) else [r for r in share.batch.records if _covers(covered, r)]
        load = replace(
            draft,
            rows_landed=progress.table_rows,
            rows_quarantined=progress.quarantine_rows,
            bytes=draft.bytes if new is None else sum(r.size for r in new),
            offsets=tuple(OffsetRange(tp.topic, tp.partition, first, last) for tp, (first, last) in covered.items()),
            delta_version=progress.table_version,
            quarantine_delta_version=progress.quarantine_version,
            committed_at=dt.datetime.now(dt.UTC),
        )
        events = len(share.batch) if new is None else len(new)
        if (held or not covered) and not progress.table_rows and not progress.quarantine_rows:
            return load, False, events  # a re-delivery: every table held it already
        if self._waiting.holds(route, draft.load_id):
            return load, True, events  # queued by an earlier attempt of this load
        # A row landed without covering new offsets has no txn to leave it out of a second append: look for the id.
        if not covered and recorded_load_ids(route.loads, [draft.load_id]):
            return load, True, events
        transactions = {route.app_id(tp): last for tp, (_, last) in covered.items()}
        self._waiting.add(route, load, transactions, metadata)
        return load, True, events


def _append(
    table: TransactionalTable,
    route: RouteTables,
    rows: pa.Table,
    coordinates: Coordinates,
    ranges: Ranges,
    metadata: dict[str, str],
) -> tuple[int, pa.Array | None] | None:
    """Append the rows ``table`` does not hold yet, with the batch's ``txn`` versions (:func:`~streamproc.sinks.txn.
    fence`): the new table version and which rows were kept (``None``: all); ``None`` when it held every offset."""
    fenced = fence(table, route, ranges)
    if fenced is None:
        return None
    keep = fenced.keep(coordinates, ranges)
    new_rows = rows if keep is None else rows.filter(keep)
    return table.append(new_rows, transactions=fenced.transactions, metadata=metadata), keep


def _kept(keep: pa.Array) -> int:
    return int(pc.sum(keep).as_py() or 0)


def _covers(covered: Ranges, record: SourceRecord) -> bool:
    span = covered.get(record.topic_partition)
    return span is not None and span[0] <= record.offset <= span[1]
