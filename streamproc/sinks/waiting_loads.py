"""``_loads`` rows waiting for their group's commit: the committer queues each load's row here and records the queue
in one ``_loads`` commit per ``_loads`` table when enough rows wait or the oldest has waited long enough.

A ``_loads`` commit costs as much as a data table's fixed part of one (~5 ms of CPU, most of it delta-rs's), a tenth
of a 20,000-row load's, and ``_loads`` is derived: it is rebuilt from the data tables' commits when a crash loses the
waiting rows, as when a crash falls between a load's commits (:func:`streamproc.sinks.txn.record_interrupted_loads`).
The group's commit carries the newest ``txn`` version of each partition among its rows.

Concurrency: none of its own; the committer calls it under its one-call-at-a-time rule (sinks/committer.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from streamproc.lineage.loads import LoadRecord
from streamproc.records import TopicPartition
from streamproc.sinks.delta import retry_commit_conflicts
from streamproc.sinks.table import TransactionalTable
from streamproc.sinks.txn import Ranges, RouteTables, recorded_load_ids

__all__ = ["WaitingLoads", "WaitingRow"]


@dataclass(frozen=True, slots=True)
class WaitingRow:
    """A load's ``_loads`` row that waits for its group's commit.

    Attributes:
        route: whose ``_loads`` table.
        load: the row.
        transactions: app id → the load's last offset, for each partition its row covers.
        metadata: the load's commit metadata (the group's commit carries its newest row's).
        since: when it was queued (``time.monotonic()``, seconds).
    """

    route: RouteTables
    load: LoadRecord
    transactions: dict[str, int]
    metadata: dict[str, str]
    since: float


class WaitingLoads:
    """The queue of ``_loads`` rows not yet committed, oldest first.

    Args:
        record_every: how many rows one ``_loads`` commit holds at most (1: each load records its own row).
        record_within_seconds: how long a row waits for its group at most, from when it was queued (checked by
            :meth:`due`; :meth:`record` records waiting rows at any time).

    Raises:
        ValueError: ``record_every`` below 1.
    """

    def __init__(self, *, record_every: int = 1, record_within_seconds: float = 1.0) -> None:
        if record_every < 1:
            raise ValueError(f"record_every must be 1 or more, not {record_every}")
        self.record_every = record_every
        self.record_within_seconds = record_within_seconds
        self._rows: list[WaitingRow] = []
        self._record_failed = False

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, route: RouteTables, load: LoadRecord, transactions: dict[str, int], metadata: dict[str, str]) -> None:
        """Queue ``load``'s row for ``route``'s ``_loads`` table."""
        self._rows.append(WaitingRow(route, load, transactions, metadata, time.monotonic()))

    def holds(self, route: RouteTables, load_id: str) -> bool:
        """Whether ``load_id``'s row for ``route`` waits here (queued by an earlier attempt of the load)."""
        return any(row.load.load_id == load_id and row.route is route for row in self._rows)

    def due(self) -> bool:
        """Whether the group is complete or its oldest row has waited ``record_within_seconds``."""
        if not self._rows:
            return False
        return (
            len(self._rows) >= self.record_every
            or time.monotonic() - self._rows[0].since >= self.record_within_seconds
        )

    def beyond(self, route: RouteTables, ranges: Ranges) -> Ranges:
        """The part of ``ranges`` beyond what the rows waiting for ``route``'s ``_loads`` table will record."""
        waiting = [row for row in self._rows if row.route.loads is route.loads]
        if not waiting:
            return ranges
        beyond: dict[TopicPartition, tuple[int, int]] = {}
        for tp, (first, last) in ranges.items():
            known = max((row.transactions.get(route.app_id(tp), -1) for row in waiting), default=-1)
            if last > known:
                beyond[tp] = (max(first, known + 1), last)
        return beyond

    def record(self) -> int:
        """Append every waiting row: one commit per ``_loads`` table, with the newest ``txn`` version of each
        partition among its rows (where beyond the table's). A row whose load the table records already (a commit
        that succeeded but reported a failure, or a partition's new owner that recorded it from the data tables'
        commits) is left out; a row whose offsets another writer recorded is appended for its counts, as the
        committer records a load interrupted between its commits.

        Returns:
            How many rows were appended.

        Raises:
            StorageUnavailableError: ``_loads`` cannot be written (the rows keep waiting; call again).
            ``CommitConflictError`` (a subclass) after repeated lost commit races.
        """
        appended = 0
        while self._rows:
            loads = self._rows[0].route.loads
            group = [row for row in self._rows if row.route.loads is loads]
            try:
                appended += retry_commit_conflicts(lambda: self._append(loads, group), uri=loads.uri)
            except BaseException:
                self._record_failed = True
                raise
            self._rows = [row for row in self._rows if row.route.loads is not loads]
        self._record_failed = False
        return appended

    def forget(self, partitions: Iterable[TopicPartition]) -> int:
        """Drop the rows of loads whose lowest partition is among ``partitions`` (revoked while ``_loads`` could not
        be written: their new owner records them from the data tables' commits, as after a crash). Returns how many
        were dropped."""
        gone = set(partitions)
        kept = [row for row in self._rows if not row.load.offsets or _lowest(row.load) not in gone]
        dropped, self._rows = len(self._rows) - len(kept), kept
        return dropped

    def _append(self, loads: TransactionalTable, group: list[WaitingRow]) -> int:
        loads.refresh()

        def stored(app_id: str) -> int:
            version = loads.transaction_version(app_id)
            return -1 if version is None else version

        # A failed commit may have landed after all, and another writer that recorded these offsets meanwhile may
        # have recorded these very loads (a partition's new owner, from the data tables' commits): look for the ids
        # then, never record a load twice. Otherwise (the usual case) no read of the table is needed.
        if self._record_failed or any(v <= stored(a) for row in group for a, v in row.transactions.items()):
            present = recorded_load_ids(loads, {row.load.load_id for row in group})
            group = [row for row in group if row.load.load_id not in present]
        if not group:
            return 0
        transactions: dict[str, int] = {}
        for row in group:
            for app_id, version in row.transactions.items():
                if version > max(stored(app_id), transactions.get(app_id, -1)):
                    transactions[app_id] = version
        rows = pa.concat_tables([row.load.to_arrow() for row in group]) if len(group) > 1 else group[0].load.to_arrow()
        loads.append(rows, transactions=transactions, metadata=group[-1].metadata)
        return len(group)


def _lowest(load: LoadRecord) -> TopicPartition:
    """The load's lowest partition: who records it after a crash
    (:func:`streamproc.sinks.txn.record_interrupted_loads`)."""
    return min(TopicPartition(r.topic, r.partition) for r in load.offsets)
