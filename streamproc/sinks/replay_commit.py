"""The committer of a quarantine replay: one replay load into its tables, exactly once.

A replay load is one chunk of quarantine rows a replay (:mod:`streamproc.ops.quarantine.replay`) took: a resolution
per row (:mod:`streamproc.sinks.resolutions`), the rows that now pass with their lineage columns, and its ``_loads``
row. Its number n is its ``txn`` version under the replay's app id (:mod:`streamproc.sinks.txn`, the one home of the
protocol: :func:`~streamproc.sinks.txn.replay_app_id`, :func:`~streamproc.sinks.txn.holds`)::

    begin   resolutions  rows + txn n   refused (ConcurrentReplayError) when the resolutions' number is not the one
                                        the replay read them at: another replay committed meanwhile
    finish  table        rows + txn n   skipped when the table holds n
            _loads       row  + txn n   skipped when _loads holds n

The resolutions go first: they say which quarantine rows load n took, so a crash after ``begin`` leaves a load the
next replay can complete (:attr:`~streamproc.sinks.txn.ReplayPosition.interrupted`: it rebuilds the rows from those
resolutions and calls :meth:`ReplayCommitter.finish`), and a crash after ``finish``'s table commit leaves only the
``_loads`` row to append. Commits lost to a concurrent writer (the running pipeline appends to the table and to
``_loads`` under its own app ids) are retried after re-reading the log
(:func:`streamproc.sinks.delta.retry_commit_conflicts`).

Blocking I/O: call from a worker thread. The committer talks to the tables through the sink seam only
(:class:`~streamproc.sinks.table.TransactionalTable`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pyarrow as pa

from streamproc.errors import ConcurrentReplayError
from streamproc.lineage.loads import METADATA_PREFIX, LoadRecord, commit_metadata
from streamproc.sinks.delta import retry_commit_conflicts
from streamproc.sinks.resolutions import with_sequence
from streamproc.sinks.table import TransactionalTable
from streamproc.sinks.txn import RECOVERY_COMMITS, ReplayPosition, ReplayTables, holds, replay_position

__all__ = ["REPLAY_OPERATION", "ReplayCommitter", "ReplayOutcome", "replay_metadata"]

REPLAY_OPERATION = "quarantine-replay"
"""``streamproc.operation`` in the ``custom_metadata`` of a replay's commits."""


def replay_metadata(load: LoadRecord, *, app_id: str, quarantine: str, quarantine_version: int) -> dict[str, str]:
    """The ``custom_metadata`` of each commit of a replay load: the load's, as a pipeline load's commits carry it
    (:func:`~streamproc.lineage.loads.commit_metadata`), without offset ranges (so the pipeline's recovery of
    interrupted loads, :func:`~streamproc.sinks.txn.record_interrupted_loads`, passes it by), and what it replayed:
    the app id, the quarantine table and the version of it that was read."""
    p = METADATA_PREFIX
    return {
        **commit_metadata(load, {}),
        f"{p}operation": REPLAY_OPERATION,
        f"{p}replay_app_id": app_id,
        f"{p}quarantine_table": quarantine,
        f"{p}quarantine_version": str(quarantine_version),
    }


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """What :meth:`ReplayCommitter.finish` did.

    Attributes:
        load: the ``_loads`` row (``delta_version``: the table version holding the load's rows).
        landed: this call appended the rows (``False``: the table held the load already).
        recorded: this call appended the ``_loads`` row (``False``: it was there already).
    """

    load: LoadRecord
    landed: bool
    recorded: bool


class ReplayCommitter:
    """Commits the loads of one replay of a quarantine table into one table (see the module docstring).

    Args:
        tables: the resolutions table, the table and ``_loads``.

    Lifecycle: construct → :meth:`open` → :meth:`position` → :meth:`begin` / :meth:`finish` per load, in order.
    """

    def __init__(self, tables: ReplayTables) -> None:
        self.tables = tables

    def open(self) -> None:
        """Create the resolutions table when absent, and check the others.

        Raises:
            SchemaMismatchError: an existing table's schema does not match.
            StorageUnavailableError: a location cannot be read or written.
        """
        for table in self.tables.in_commit_order:
            table.open()

    def position(self) -> ReplayPosition:
        """The newest load number each table holds (read fresh).

        Raises:
            StorageUnavailableError: a log cannot be read.
        """
        return replay_position(self.tables)

    def begin(self, resolutions: pa.Table, *, known: int, metadata: dict[str, str]) -> int:
        """Commit a new load's resolutions as load ``known + 1``.

        Args:
            resolutions: the load's resolutions (:data:`~streamproc.sinks.resolutions.RESOLUTIONS_SCHEMA`; their
                ``replay_sequence`` is set here).
            known: the newest load number of the resolutions when the caller read them (what its choice of rows is
                based on).

        Returns:
            The load's number.

        Raises:
            ConcurrentReplayError: the resolutions hold another number now: another replay committed meanwhile
                (nothing was committed).
            StorageUnavailableError: the commit failed (nothing was committed; call again).
        """
        sequence = known + 1
        table, app_id = self.tables.resolutions, self.tables.app_id

        def attempt() -> int:
            table.refresh()
            held = table.transaction_version(app_id) or 0
            if held != known:
                raise ConcurrentReplayError(
                    f"another replay of {self.tables.quarantine_name} into {self.tables.table_name} committed load "
                    f"{held} since this one read the resolutions at load {known}: run one replay at a time "
                    "(nothing of this replay's load was committed; run it again)"
                )
            rows = with_sequence(resolutions, sequence)
            return table.append(rows, transactions={app_id: sequence}, metadata=metadata)

        retry_commit_conflicts(attempt, uri=table.uri)
        return sequence

    def finish(self, sequence: int, landed: pa.Table, load: LoadRecord, *, metadata: dict[str, str]) -> ReplayOutcome:
        """Commit load ``sequence``'s rows to the table, then its ``_loads`` row, each unless the table holds it.

        Args:
            landed: the rows that pass, with their lineage columns (may be empty: the commit records the number).
            load: its ``_loads`` row without ``delta_version`` / ``committed_at`` (set here).

        Raises:
            StorageUnavailableError: a commit failed; call again (what is committed is skipped).
                ``CommitConflictError`` (a subclass) after repeated lost commit races.
            SchemaMismatchError: the table refused the rows' schema.
        """
        app_id = self.tables.app_id
        table, loads = self.tables.table, self.tables.loads

        def land() -> int | None:
            if holds(table, app_id, sequence):
                return None
            return table.append(landed, transactions={app_id: sequence}, metadata=metadata)

        version = retry_commit_conflicts(land, uri=table.uri)
        appended = version is not None
        if version is None:
            version = _version_of(table, load.load_id)
        load = replace(load, delta_version=version, committed_at=dt.datetime.now(dt.UTC))

        def record() -> bool:
            if holds(loads, app_id, sequence):
                return False
            loads.append(load.to_arrow(), transactions={app_id: sequence}, metadata=metadata)
            return True

        recorded = retry_commit_conflicts(record, uri=loads.uri)
        return ReplayOutcome(load, appended, recorded)


def _version_of(table: TransactionalTable, load_id: str) -> int | None:
    """The version of the commit of ``load_id`` among ``table``'s newest commits (``None``: not found)."""
    for info in table.history(RECOVERY_COMMITS):
        if info.get(f"{METADATA_PREFIX}load_id") == load_id:
            return int(info["version"])
    return None
