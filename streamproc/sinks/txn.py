"""Exactly once into the lake: the one home of the protocol, after kafka-delta-ingest.

=================================  =================================================================================
rule                               here
=================================  =================================================================================
positions live in the tables       every commit carries one ``txn`` action per partition, app id
                                   ``<consumer group>/<table>/<topic>/<partition>`` (:func:`transaction_app_id`),
                                   version = the last offset the commit covers
resume at the lowest + 1           a partition resumes at the lowest ``txn`` version over *every* table of the
                                   pipeline (each route's table and quarantine table, ``_loads``) + 1
                                   (:func:`resume_positions`), so a load interrupted between its commits, or a
                                   route behind the others, is completed; a data table without a version for a
                                   partition its route's other data table knows counts as -1 (:func:`resume_at`)
fence before each commit           re-read the log, record only versions beyond the stored ones, and leave out the
                                   rows at or below them (:func:`fence`): a re-delivery or a zombie writer lands
                                   nothing twice
record interrupted loads           a load whose commits a crash split gets its ``_loads`` row from its commits'
                                   metadata on the next assignment (:func:`record_interrupted_loads`)
move a position                    an empty commit with the new version to every table (:func:`move_position`):
                                   ``streamproc positions set``
a quarantine is a source too       a replay of quarantine table Q into table T numbers its loads 1, 2, ...: app id
                                   ``quarantine-replay/<T>/<Q>`` (:func:`replay_app_id`), version = the load's
                                   number, committed to Q's resolutions table, then T, then ``_loads``
                                   (:class:`ReplayTables`); a table holding the number skips it (:func:`holds`), the
                                   resolutions holding a number the replay did not know of means another replay
                                   committed meanwhile; resolutions ahead of T or ``_loads`` are an interrupted load
                                   (:func:`replay_position`), completed by the next replay
=================================  =================================================================================

A replay's version is its own load counter, not a position in the quarantine table: ``--where`` makes a replay take
any subset of the rows, and a later one (another filter, another contract fix) must still be able to take rows an
earlier one left, so a high-water mark over quarantine rows would skip them for good. Which rows a load took is in
the resolutions it committed with its number (:mod:`streamproc.sinks.resolutions`).

The tables of one route are a :class:`RouteTables` (quarantine, table, ``_loads`` in commit order, and the table's
name that names their app ids). Everything here talks to tables through the sink seam
(:class:`~streamproc.sinks.table.TransactionalTable`). Blocking I/O: call from a worker thread.

Who records an interrupted load: the member that owns its lowest partition (its first topic-partition in sort
order). In a consumer group exactly one member owns it, and eager rebalancing revokes it from the old owner only
after that owner's in-flight load finished, so two members never record the same load. Limits (docs/exactly-once.md,
"Limits"): only the newest :data:`RECOVERY_COMMITS` commits of each table are searched, and only when a table's ``txn``
version of an assigned partition is ahead of ``_loads``'; a zombie that finishes its load after the new owner
recorded it leaves that one load's counts short.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from streamproc.batching.coordinates import Coordinates
from streamproc.errors import ConfigError
from streamproc.lineage.loads import METADATA_PREFIX, LoadRecord, commit_metadata, load_of_commits, offsets_of
from streamproc.sinks.delta import retry_commit_conflicts
from streamproc.sinks.table import TransactionalTable
from streamproc.records import TopicPartition

__all__ = [
    "RECOVERY_COMMITS",
    "Fence",
    "Ranges",
    "ReplayPosition",
    "ReplayTables",
    "RouteTables",
    "fence",
    "holds",
    "landed_versions",
    "move_position",
    "recorded_load_ids",
    "record_interrupted_loads",
    "replay_app_id",
    "replay_position",
    "partition_resume_at",
    "resume_at",
    "resume_positions",
    "transaction_app_id",
    "uncovered",
]

logger = logging.getLogger(__name__)

Ranges = Mapping[TopicPartition, tuple[int, int]]
"""Per partition, the first and last offset (inclusive) of a micro-batch."""

RECOVERY_COMMITS = 200
"""How many of a table's newest commits are searched for interrupted loads (reading a commit is one small JSON file
per commit; the search only runs when a ``txn`` version shows an interrupted load)."""


def transaction_app_id(consumer_group: str, table_name: str, tp: TopicPartition) -> str:
    """The ``txn`` application id under which a route's tables record a partition's position:
    ``<consumer group>/<table>/<topic>/<partition>`` (the same for its quarantine table and ``_loads``)."""
    return f"{consumer_group}/{table_name}/{tp.topic}/{tp.partition}"


@dataclass(frozen=True, eq=False)
class RouteTables:
    """The tables one route lands into, in commit order, and the names of their positions.

    Attributes:
        consumer_group: whose positions (the ``txn`` app ids' first part).
        table_name: the route's table's logical name (the app ids' second part, for all three tables).
        quarantine, table, loads: the tables (``loads`` is shared by every route of a pipeline).
    """

    consumer_group: str
    table_name: str
    quarantine: TransactionalTable
    table: TransactionalTable
    loads: TransactionalTable

    def app_id(self, tp: TopicPartition, *, group: str | None = None) -> str:
        return transaction_app_id(group or self.consumer_group, self.table_name, tp)

    @property
    def in_commit_order(self) -> tuple[TransactionalTable, TransactionalTable, TransactionalTable]:
        return (self.quarantine, self.table, self.loads)


def _distinct(tables: Iterable[TransactionalTable]) -> list[TransactionalTable]:
    return list({t.uri: t for t in tables}.values())


def resume_at(data: Iterable[int | None], derived: Iterable[int | None] = ()) -> int | None:
    """The next offset of a partition to land for one route: the lowest ``txn`` version + 1.

    Args:
        data: the versions of the route's data tables (quarantine table, table). Every complete load commits to
            both, so while one of them knows the partition, the other holding no version has landed nothing of
            it (the partition's first load, interrupted between its quarantine and table commits): it counts as
            -1, and the partition is read again from its start (rows a table holds are left out by :func:`fence`).
        derived: versions of tables rebuilt from the data tables' commits (``_loads``): they count only when known.

    Returns:
        ``None`` when no data table of the route knows the partition (a new route, or nothing landed yet).
    """
    data = list(data)
    if all(v is None for v in data):
        return None
    return min(-1 if v is None else v for v in [*data, *(d for d in derived if d is not None)]) + 1


def partition_resume_at(routes: Sequence[RouteTables], tp: TopicPartition) -> int | None:
    """Where ``tp`` resumes, as of the tables' last refresh: the lowest :func:`resume_at` over the routes that know
    it (``None``: none does)."""
    known = []
    for route in routes:
        app_id = route.app_id(tp)
        at = resume_at(
            (route.quarantine.transaction_version(app_id), route.table.transaction_version(app_id)),
            (route.loads.transaction_version(app_id),),
        )
        if at is not None:
            known.append(at)
    return min(known, default=None)


def resume_positions(
    routes: Sequence[RouteTables], partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """Per partition, where to resume: :func:`partition_resume_at` over every table of every route (read fresh).

    Raises:
        StorageUnavailableError: a log cannot be read.
    """
    for table in _distinct(t for r in routes for t in r.in_commit_order):
        table.refresh()
    return {tp: partition_resume_at(routes, tp) for tp in partitions}


def landed_versions(routes: Sequence[RouteTables], tp: TopicPartition) -> dict[str, int | None]:
    """Table name → the last offset of ``tp`` it landed, as of the tables' last refresh; ``_loads`` (shared) shows
    the lowest of its routes' versions, the one that counts for resuming."""
    versions: dict[str, int | None] = {}
    loads: list[int | None] = []
    for route in routes:
        versions[route.table.name] = route.table.transaction_version(route.app_id(tp))
        versions[route.quarantine.name] = route.quarantine.transaction_version(route.app_id(tp))
        loads.append(route.loads.transaction_version(route.app_id(tp)))
    known = [v for v in loads if v is not None]
    versions[routes[0].loads.name] = min(known) if known else None
    return versions


@dataclass(frozen=True, slots=True)
class Fence:
    """What one commit to one table may still add (:func:`fence`).

    Attributes:
        transactions: app id → version to record (the partitions the table is behind on).
        held: per partition of the batch, the version the table already holds (``None``: none).
    """

    transactions: dict[str, int]
    held: dict[TopicPartition, int | None]

    def keep(self, coordinates: Coordinates, ranges: Ranges) -> pa.Array | None:
        """Per row (whose source coordinates are ``coordinates``), whether it is beyond :attr:`held` (``bool``);
        ``None`` when every row is (the usual case: nothing of the batch is in the table yet, no per-row check)."""
        if all(self.held[tp] is None or self.held[tp] < first for tp, (first, _) in ranges.items()):  # type: ignore[operator]
            return None
        keep = coordinates.beyond(self.held)
        return None if pc.all(keep).as_py() else keep


def fence(table: TransactionalTable, route: RouteTables, ranges: Ranges) -> Fence | None:
    """Re-read ``table``'s log and say what a commit of a batch covering ``ranges`` may add; ``None`` when the table
    holds every offset already. The fencing delta-rs does not do by itself: after losing a commit race, or behind a
    zombie writer, what the other writer landed is left out.

    Raises:
        StorageUnavailableError: the log cannot be read.
    """
    table.refresh()
    held = {tp: table.transaction_version(route.app_id(tp)) for tp in ranges}
    transactions = {
        route.app_id(tp): last for tp, (_, last) in ranges.items() if held[tp] is None or last > held[tp]  # type: ignore[operator]
    }
    return Fence(transactions, held) if transactions else None


def uncovered(table: TransactionalTable, route: RouteTables, ranges: Ranges) -> dict[TopicPartition, tuple[int, int]]:
    """The part of ``ranges`` beyond the versions ``table`` holds (as of its last refresh)."""
    beyond: dict[TopicPartition, tuple[int, int]] = {}
    for tp, (first, last) in ranges.items():
        known = table.transaction_version(route.app_id(tp))
        if known is None or last > known:
            beyond[tp] = (first if known is None else max(first, known + 1), last)
    return beyond


def recorded_load_ids(loads: TransactionalTable, load_ids: Iterable[str]) -> set[str]:
    """Which of ``load_ids`` have a ``_loads`` row (as of its last refresh)."""
    return loads.present("load_id", load_ids)


def move_position(
    routes: Sequence[RouteTables], tp: TopicPartition, next_offset: int, *, group: str | None = None
) -> None:
    """Make ``tp`` resume at ``next_offset``: one empty commit per table of every route, recording ``txn`` version
    ``next_offset - 1`` (under ``group``'s app ids when given: carrying positions over to a renamed group), with
    ``streamproc.operation = move-position`` in its metadata. What a load does, without rows: do it with the
    pipeline stopped.

    Raises:
        ConfigError: ``next_offset`` is negative.
        StorageUnavailableError, CommitConflictError: a table cannot be written.
    """
    if next_offset < 0:
        raise ConfigError(f"the next offset must be 0 or more, not {next_offset}")
    by_table: dict[str, tuple[TransactionalTable, dict[str, int]]] = {}
    for route in routes:
        for table in route.in_commit_order:
            by_table.setdefault(table.uri, (table, {}))[1][route.app_id(tp, group=group)] = next_offset - 1
    moved_at = dt.datetime.now(dt.UTC).isoformat()
    for table, transactions in by_table.values():
        metadata = {
            f"{METADATA_PREFIX}operation": "move-position",
            f"{METADATA_PREFIX}app_id": ",".join(sorted(transactions)),
            f"{METADATA_PREFIX}next_offset": str(next_offset),
            f"{METADATA_PREFIX}moved_at": moved_at,
        }
        retry_commit_conflicts(
            lambda table=table, transactions=transactions: table.append(
                table.schema.empty_table(), transactions=transactions, metadata=metadata
            ),
            uri=table.uri,
        )


def record_interrupted_loads(route: RouteTables, partitions: Iterable[TopicPartition]) -> list[LoadRecord]:
    """Append a ``_loads`` row for each interrupted load of ``route`` whose lowest partition is in ``partitions``.

    Call it on assignment, before any load of ``partitions``. Each row is rebuilt from the load's commits
    (:func:`streamproc.lineage.loads.load_of_commits`), covering the batch's ranges beyond what ``_loads`` recorded.
    ``_loads``' ``txn`` versions advance only as far as both the quarantine table and the table have landed, so a
    load interrupted between those two commits is re-read and completed by the next load (whose row then overlaps
    this one's offsets; the counts never overlap).

    Returns:
        The rows appended (none in the common case: no interrupted load, and then no history is read).

    Raises:
        StorageUnavailableError: a log cannot be read or ``_loads`` cannot be written.
        CommitConflictError: ``_loads`` stayed contended.
    """
    owned = set(partitions)
    for table in route.in_commit_order:
        table.refresh()

    def behind(tp: TopicPartition) -> bool:
        recorded = route.loads.transaction_version(route.app_id(tp))
        landed = (route.quarantine.transaction_version(route.app_id(tp)), route.table.transaction_version(route.app_id(tp)))
        return any(v is not None and (recorded is None or v > recorded) for v in landed)

    if not any(behind(tp) for tp in owned):
        return []
    commits: dict[str, dict[str, dict[str, Any]]] = {}
    for role, table in (("quarantine", route.quarantine), ("table", route.table)):
        for info in table.history(RECOVERY_COMMITS):
            ranges = offsets_of(info)
            load_id = info.get(f"{METADATA_PREFIX}load_id")
            if (
                not ranges
                or not isinstance(load_id, str)
                or info.get(f"{METADATA_PREFIX}consumer_group") != route.consumer_group
                or min(ranges) not in owned
            ):
                continue
            commits.setdefault(load_id, {})[role] = info
    missing = set(commits) - recorded_load_ids(route.loads, commits)
    recorded: list[LoadRecord] = []
    # Oldest first, so that _loads' txn versions advance in order.
    for load_id in sorted(missing, key=lambda i: min(int(c["timestamp"]) for c in commits[i].values())):
        load = retry_commit_conflicts(lambda load_id=load_id: _record_one(commits[load_id], route), uri=route.loads.uri)
        if load is not None:
            logger.warning(
                "recorded load %s, interrupted before its _loads row (%d landed, %d quarantined, offsets %s)",
                load.load_id[:12],
                load.rows_landed,
                load.rows_quarantined,
                ", ".join(f"{r.topic}[{r.partition}]@{r.first}-{r.last}" for r in load.offsets) or "none new",
            )
            recorded.append(load)
    return recorded


def _record_one(by_role: dict[str, dict[str, Any]], route: RouteTables) -> LoadRecord | None:
    route.loads.refresh()
    info = next(iter(by_role.values()))
    if recorded_load_ids(route.loads, [info[f"{METADATA_PREFIX}load_id"]]):
        return None  # recorded meanwhile (a retry after a lost commit race)
    ranges = offsets_of(info)
    covered = uncovered(route.loads, route, dict(sorted(ranges.items())))
    transactions: dict[str, int] = {}
    for tp, (_, last) in covered.items():
        known = route.loads.transaction_version(route.app_id(tp))
        # Only as far as both tables landed: a part missing from one of them is re-read and landed later.
        complete = min(_or_minus_one(t.transaction_version(route.app_id(tp))) for t in (route.quarantine, route.table))
        if min(last, complete) > (-1 if known is None else known):
            transactions[route.app_id(tp)] = min(last, complete)
    load = load_of_commits(by_role, offsets=covered, table_name=route.table.name, table_uri=route.table.uri)
    route.loads.append(load.to_arrow(), transactions=transactions, metadata=commit_metadata(load, ranges))
    return load


def _or_minus_one(version: int | None) -> int:
    return -1 if version is None else version


def replay_app_id(table_name: str, quarantine_name: str) -> str:
    """The ``txn`` application id under which a replay of the quarantine table ``quarantine_name`` into the table
    ``table_name`` records its loads' numbers: ``quarantine-replay/<table>/<quarantine table>`` (the same in the
    resolutions table, the table and ``_loads``; no consumer group: the quarantine is the source)."""
    return f"quarantine-replay/{table_name}/{quarantine_name}"


@dataclass(frozen=True, eq=False)
class ReplayTables:
    """The tables a replay of one quarantine table into one table commits to, and the names of its position.

    Attributes:
        table_name, quarantine_name: the logical names that make the app id (:func:`replay_app_id`).
        resolutions, table, loads: the tables, in commit order (``resolutions`` is the quarantine's).
    """

    table_name: str
    quarantine_name: str
    resolutions: TransactionalTable
    table: TransactionalTable
    loads: TransactionalTable

    @property
    def app_id(self) -> str:
        return replay_app_id(self.table_name, self.quarantine_name)

    @property
    def in_commit_order(self) -> tuple[TransactionalTable, TransactionalTable, TransactionalTable]:
        return (self.resolutions, self.table, self.loads)


@dataclass(frozen=True, slots=True)
class ReplayPosition:
    """The number of the newest replay load each table of a replay holds (0: none yet)."""

    resolutions: int
    table: int
    loads: int

    @property
    def last(self) -> int:
        """The newest load number any of the tables holds (the next load is this + 1)."""
        return max(self.resolutions, self.table, self.loads)

    @property
    def interrupted(self) -> int | None:
        """The load a crash left between its commits (its resolutions committed, the table's or ``_loads``' commit
        not), or ``None``."""
        return self.resolutions if self.resolutions > min(self.table, self.loads) else None


def replay_position(tables: ReplayTables) -> ReplayPosition:
    """The replay's position in each of its tables (read fresh).

    Raises:
        StorageUnavailableError: a log cannot be read.
    """
    versions = []
    for table in tables.in_commit_order:
        table.refresh()
        versions.append(table.transaction_version(tables.app_id) or 0)
    return ReplayPosition(*versions)


def holds(table: TransactionalTable, app_id: str, version: int) -> bool:
    """Whether ``table`` (re-read) records ``app_id`` at ``version`` or beyond: a commit of that version to it would
    land twice.

    Raises:
        StorageUnavailableError: the log cannot be read.
    """
    table.refresh()
    held = table.transaction_version(app_id)
    return held is not None and held >= version
