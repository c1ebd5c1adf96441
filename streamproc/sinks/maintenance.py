"""Background upkeep of a pipeline's Delta tables: compaction, checkpoints, log cleanup and vacuum.

Micro-batches make small files (one or a few per load and table). Readers pay for every file, and so does every
commit: delta-rs's append cost grows with the table's live files (11 ms at 300 files, 66 ms at 1,200 measured on the
dev machine; back to ~17 ms after a compaction). So:

- **compaction** (delta-rs ``optimize.compact``) rewrites a table's small files into files near
  ``target_file_size_bytes`` once it has ``compact_min_files`` of them. It only rewrites data: the log's ``txn``
  actions (the exactly-once positions) are table state and survive it, and it commits as a rewrite that does not
  conflict with concurrent appends;
- a **checkpoint** follows each compaction (delta-rs also writes one every ``delta.checkpointInterval`` commits), then
  log entries older than ``delta.logRetentionDuration`` (30 days unless the table says otherwise) are cleaned up.
  ``txn`` actions live on in the checkpoint;
- **vacuum** deletes data files no longer referenced by versions newer than ``vacuum_retention_hours``, and, being a
  *full* vacuum, orphans: files written by a commit that then failed (a lost commit race, a crash mid-commit).

Compaction and checkpoints run on their own table handles beside the landing; vacuum runs under the landing lock, so
it never sees a file this process wrote but has not committed yet. Other processes' uncommitted files are protected
only by the retention period: keep ``vacuum_retention_hours`` well above the longest commit.

In a consumer group only the member owning a partition 0 maintains (a lost race between two maintainers is logged and
skipped). A maintenance failure is logged and never stops landing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError
from deltalake.fs import DeltaStorageHandler
from pyarrow.fs import FileType, PyFileSystem

from streamproc.config import MaintenanceConfig

__all__ = ["MaintenanceReport", "TableMaintainer", "run_maintenance"]

logger = logging.getLogger(__name__)

_COMPACTION_ID = "streamproc.compaction_id"

DEFAULT_TARGET_FILE_SIZE = 100 * 1024 * 1024
"""delta-rs's compaction target when neither the config nor ``delta.targetFileSize`` sets one (bytes)."""


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one maintenance step did to one table.

    Attributes:
        table: the table's location.
        action: ``compact``, ``checkpoint`` or ``vacuum``.
        files_removed / files_added: data files the step removed (compacted or vacuumed) and wrote.
        version: the version the step committed (compaction) or wrote (checkpoint); ``None`` for vacuum.
        seconds: how long it took.
    """

    table: str
    action: str
    files_removed: int
    files_added: int
    version: int | None
    seconds: float


class TableMaintainer:
    """Compacts, checkpoints and vacuums a set of Delta tables by the rules of a :class:`MaintenanceConfig`.

    Blocking (delta-rs I/O): call from a worker thread. Keeps its own table handles, apart from the writers'.

    Args:
        config: when and how to maintain.
        uris: the tables (e.g. the table, its quarantine table and ``_loads``).
        storage_options: passed to delta-rs.
    """

    def __init__(
        self, config: MaintenanceConfig, uris: list[str], *, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.config = config
        self.uris = list(uris)
        self._storage_options = dict(storage_options or {})
        self._last_vacuum = time.monotonic()
        self._gone: dict[str, set[str]] = {}
        """Per table: vacuum candidates (expired tombstones) whose files are already deleted."""

    def _open(self, uri: str) -> DeltaTable:
        return DeltaTable(uri, storage_options=self._storage_options)

    def small_files(self, uri: str) -> int:
        """How many of the table's data files are smaller than the compaction target."""
        table = self._open(uri)
        actions = pa.table(table.get_add_actions(flatten=True))
        if actions.num_rows == 0:
            return 0
        return pc.sum(pc.less(actions["size_bytes"], self._target_size(table))).as_py() or 0

    def compact(self, *, force: bool = False) -> list[MaintenanceReport]:
        """Compact each table with at least ``compact_min_files`` small files (every table if ``force``), then
        checkpoint it and clean up its expired log entries (if ``checkpoint``).

        Raises:
            DeltaError, OSError: a table could not be read or rewritten (a lost race is logged and skipped).
        """
        reports = []
        for uri in self.uris:
            if not force and self.small_files(uri) < self.config.compact_min_files:
                continue
            table = self._open(uri)
            started = time.monotonic()
            # delta-rs refreshes the handle to the newest version after its commit: the commit is found by this id.
            marker = {_COMPACTION_ID: uuid.uuid4().hex}
            try:
                metrics = table.optimize.compact(
                    target_size=self.config.target_file_size_bytes,
                    max_concurrent_tasks=1,
                    commit_properties=CommitProperties(custom_metadata=marker),
                )
            except CommitFailedError as exc:
                logger.info("compaction of %s lost to a concurrent writer; skipped this round: %s", uri, exc)
                continue
            reports.append(
                MaintenanceReport(
                    uri,
                    "compact",
                    int(metrics.get("numFilesRemoved", 0)),
                    int(metrics.get("numFilesAdded", 0)),
                    _version_of(table, marker),
                    time.monotonic() - started,
                )
            )
            if self.config.checkpoint:
                started = time.monotonic()
                table.create_checkpoint()
                table.cleanup_metadata()
                reports.append(MaintenanceReport(uri, "checkpoint", 0, 0, table.version(), time.monotonic() - started))
        return reports

    def vacuum_due(self) -> bool:
        """Whether ``vacuum_interval_seconds`` passed since the last vacuum (or since this object was made)."""
        return time.monotonic() - self._last_vacuum >= self.config.vacuum_interval_seconds

    def vacuum(self) -> list[MaintenanceReport]:
        """Full vacuum of each table: unreferenced files older than ``vacuum_retention_hours``, orphans included.

        delta-rs lists every expired tombstone of the log as deleted on each run, also once its file is gone (until
        log cleanup drops the tombstone): a report counts only files that were there, and a table with none is not
        vacuumed at all (a vacuum commits a ``VACUUM START``/``END`` pair). Files found gone are remembered, so each
        is looked up once (one ``stat``, or one ``HEAD`` on an object store).

        Call it only while this process has no commit in flight (the pipeline holds the landing lock).

        Raises:
            DeltaError, OSError: a table could not be listed or a file not deleted.
        """
        reports = []
        for uri in self.uris:
            table = self._open(uri)
            started = time.monotonic()
            options = {"retention_hours": self.config.vacuum_retention_hours, "enforce_retention_duration": False,
                       "full": True}
            candidates = set(table.vacuum(dry_run=True, **options))
            gone = self._gone.setdefault(uri, set())
            gone &= candidates  # a tombstone log cleanup dropped is forgotten too
            gone |= _missing(uri, candidates - gone, self._storage_options)
            removed = 0
            if candidates - gone:
                deleted = set(table.vacuum(dry_run=False, **options))
                removed = len(deleted - gone)
                gone |= deleted
            reports.append(MaintenanceReport(uri, "vacuum", removed, 0, None, time.monotonic() - started))
        self._last_vacuum = time.monotonic()
        return reports

    def _target_size(self, table: DeltaTable) -> int:
        if self.config.target_file_size_bytes is not None:
            return self.config.target_file_size_bytes
        configured = table.metadata().configuration.get("delta.targetFileSize")
        return int(configured) if configured else DEFAULT_TARGET_FILE_SIZE


def _version_of(table: DeltaTable, marker: dict[str, str]) -> int | None:
    """The version of the commit carrying ``marker`` in its ``commitInfo`` (``None``: not among the last 100)."""
    (key, value), = marker.items()
    for commit in table.history(100):
        if commit.get(key) == value:
            return int(commit["version"])
    return None


def _missing(uri: str, paths: set[str], storage_options: Mapping[str, str]) -> set[str]:
    """Those of ``paths`` (relative to the table's root, as delta-rs' vacuum names them) not in storage."""
    if not paths:
        return set()
    ordered = sorted(paths)
    storage = PyFileSystem(DeltaStorageHandler(uri, dict(storage_options) or None))
    return {path for path, info in zip(ordered, storage.get_file_info(ordered), strict=True)
            if info.type == FileType.NotFound}


async def run_maintenance(
    maintainer: TableMaintainer, *, landing_lock: anyio.Lock, is_maintainer: Callable[[], bool]
) -> None:
    """The pipeline's maintenance task: as soon as ``is_maintainer()`` says this member maintains (after its first
    assignment, so a restarted pipeline catches up with the small files it left), then every ``interval_seconds``:
    compaction (beside the landing) and, when due, vacuum (under ``landing_lock``). Runs until cancelled; never raises
    for a maintenance failure (it is logged, and retried next round)."""
    config = maintainer.config
    while True:
        if not is_maintainer():
            await anyio.sleep(min(1.0, config.interval_seconds))  # not (yet) the maintainer: look again soon
            continue
        try:
            # Abandoned on cancel: a shutdown does not wait for a compaction (an unfinished one commits nothing).
            reports = await anyio.to_thread.run_sync(maintainer.compact, abandon_on_cancel=True)
            if maintainer.vacuum_due():
                async with landing_lock:
                    reports += await anyio.to_thread.run_sync(maintainer.vacuum, abandon_on_cancel=True)
        except (DeltaError, OSError) as exc:
            logger.warning("table maintenance failed (landing goes on; retried in %.0fs): %s", config.interval_seconds, exc)
            reports = []
        for report in reports:
            if report.action != "vacuum" or report.files_removed:
                logger.info(
                    "maintenance: %s %s: %d files removed, %d added, version %s, %.1fs",
                    report.action,
                    report.table,
                    report.files_removed,
                    report.files_added,
                    report.version,
                    report.seconds,
                )
        await anyio.sleep(config.interval_seconds)
