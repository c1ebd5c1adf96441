"""Loads a crash interrupted: their ``_loads`` row, rebuilt from the Delta commits they left behind.

A load commits the quarantine table, then the table, then ``_loads``. A process killed between those commits leaves
rows whose ``_load_id`` has no ``_loads`` row. Every commit carries the load's description in its ``commitInfo``
(:func:`commit_metadata`: load id, run id, contract, offsets, close reason, ...) and delta-rs adds the number of rows
it appended (``operationMetrics.num_added_rows``). On partition assignment the new owner rebuilds the missing row
from those (:func:`record_interrupted_loads`), so every landed or quarantined row's ``_load_id`` is in ``_loads`` and
``_loads`` totals equal the tables' row counts.

Who records an interrupted load: the member that owns its lowest partition (its first topic-partition in sort
order). In a consumer group exactly one member owns it, and eager rebalancing revokes it from the old owner only
after that owner's in-flight load finished, so two members never record the same load.

Limits (README, "Exactly once"): only the newest :data:`RECOVERY_COMMITS` commits of each table are searched, and
only when a table's ``txn`` version of an assigned partition is ahead of ``_loads``' (the signature of an interrupted
load); a writer that lost its partitions but kept running (a zombie paused past the session timeout) and finishes
its load after the new owner recorded it leaves that one load's counts short.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa
from deltalake import QueryBuilder

from streamproc.lineage.loads import LoadRecord, OffsetRange
from streamproc.sinks.delta import DeltaTableWriter, retry_commit_conflicts
from streamproc.sources.base import TopicPartition

__all__ = [
    "RECOVERY_COMMITS",
    "commit_metadata",
    "offsets_of",
    "recorded_load_ids",
    "record_interrupted_loads",
]

logger = logging.getLogger(__name__)

RECOVERY_COMMITS = 200
"""How many of a table's newest commits are searched for interrupted loads (reading a commit is one small JSON file
per commit; the search only runs when a ``txn`` version shows an interrupted load)."""

_PREFIX = "streamproc."


def commit_metadata(load: LoadRecord, ranges: Mapping[TopicPartition, tuple[int, int]]) -> dict[str, str]:
    """The ``custom_metadata`` of each of a load's commits: enough to rebuild its ``_loads`` row.

    ``ranges`` are the batch's offset ranges (first, last) per partition; ``load``'s counts and versions are not
    stored (each commit has its own ``num_added_rows`` and version).
    """
    return {
        f"{_PREFIX}load_id": load.load_id,
        f"{_PREFIX}run_id": load.run_id,
        f"{_PREFIX}pipeline": load.pipeline,
        f"{_PREFIX}consumer_group": load.consumer_group,
        f"{_PREFIX}table_name": load.table_name,
        f"{_PREFIX}contract_name": load.contract_name,
        f"{_PREFIX}contract_version": str(load.contract_version),
        f"{_PREFIX}contract_hash": load.contract_hash,
        f"{_PREFIX}close_reason": load.close_reason,
        f"{_PREFIX}bytes": str(load.bytes),
        f"{_PREFIX}started_at": load.started_at.isoformat(),
        f"{_PREFIX}offsets": json.dumps(
            [{"topic": tp.topic, "partition": tp.partition, "first": f, "last": l} for tp, (f, l) in ranges.items()]
        ),
    }


def offsets_of(info: Mapping[str, Any]) -> dict[TopicPartition, tuple[int, int]]:
    """The batch's offset ranges recorded in a commit's ``commitInfo`` (``{}`` for commits streamproc did not make)."""
    raw = info.get(f"{_PREFIX}offsets")
    if not isinstance(raw, str):
        return {}
    return {TopicPartition(r["topic"], int(r["partition"])): (int(r["first"]), int(r["last"])) for r in json.loads(raw)}


def recorded_load_ids(loads: DeltaTableWriter, load_ids: Iterable[str]) -> set[str]:
    """Which of ``load_ids`` have a ``_loads`` row (as of the last refresh).

    The filter is pushed down to delta-rs's query engine, which skips the files whose ``load_id`` min/max statistics
    cannot hold any of them (one row per file until compaction: most files).
    """
    wanted = sorted(set(load_ids))
    if not wanted:
        return set()
    listed = ", ".join("'" + i.replace("'", "''") + "'" for i in wanted)
    reader = QueryBuilder().register("loads", loads.table).execute(
        f"SELECT load_id FROM loads WHERE load_id IN ({listed})"
    )
    return {str(i) for i in pa.table(reader.read_all()).column("load_id").to_pylist()}


def record_interrupted_loads(
    *,
    quarantine: DeltaTableWriter,
    table: DeltaTableWriter,
    loads: DeltaTableWriter,
    app_id: Callable[[TopicPartition], str],
    consumer_group: str,
    table_uri: str,
    partitions: Iterable[TopicPartition],
) -> list[LoadRecord]:
    """Append a ``_loads`` row for each interrupted load whose lowest partition is in ``partitions``.

    Call it on assignment, before any load of ``partitions``, from a worker thread (blocking I/O).

    Each row is rebuilt from the load's commits: ``rows_quarantined`` / ``rows_landed`` are their
    ``num_added_rows`` (0 when the crash came before that commit), ``offsets`` the batch's ranges beyond what
    ``_loads`` recorded, ``committed_at`` the newest commit's time. ``_loads``' ``txn`` versions advance only as far
    as both the quarantine table and the table have landed, so a load interrupted between those two commits is
    re-read and completed by the next load (whose row then overlaps this one's offsets; the counts never overlap).

    Returns:
        The rows appended (none in the common case: no interrupted load, and then no history is read).

    Raises:
        StorageUnavailableError: a log cannot be read or ``_loads`` cannot be written.
        CommitConflictError: ``_loads`` stayed contended.
    """
    owned = set(partitions)
    for writer in (quarantine, table, loads):
        writer.refresh()

    def behind(tp: TopicPartition) -> bool:
        recorded = loads.transaction_version(app_id(tp))
        landed = (quarantine.transaction_version(app_id(tp)), table.transaction_version(app_id(tp)))
        return any(v is not None and (recorded is None or v > recorded) for v in landed)

    if not any(behind(tp) for tp in owned):
        return []
    commits: dict[str, dict[str, dict[str, Any]]] = {}
    for role, writer in (("quarantine", quarantine), ("table", table)):
        for info in writer.history(RECOVERY_COMMITS):
            ranges = offsets_of(info)
            load_id = info.get(f"{_PREFIX}load_id")
            if (
                not ranges
                or not isinstance(load_id, str)
                or info.get(f"{_PREFIX}consumer_group") != consumer_group
                or min(ranges) not in owned
            ):
                continue
            commits.setdefault(load_id, {})[role] = info
    missing = set(commits) - recorded_load_ids(loads, commits)
    recorded: list[LoadRecord] = []
    # Oldest first, so that _loads' txn versions advance in order.
    for load_id in sorted(missing, key=lambda i: min(int(c["timestamp"]) for c in commits[i].values())):
        load = retry_commit_conflicts(
            lambda load_id=load_id: _record_one(
                commits[load_id], quarantine=quarantine, table=table, loads=loads, app_id=app_id, table_uri=table_uri
            ),
            uri=loads.uri,
        )
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


def _record_one(
    by_role: dict[str, dict[str, Any]],
    *,
    quarantine: DeltaTableWriter,
    table: DeltaTableWriter,
    loads: DeltaTableWriter,
    app_id: Callable[[TopicPartition], str],
    table_uri: str,
) -> LoadRecord | None:
    loads.refresh()
    info = next(iter(by_role.values()))
    load_id = info[f"{_PREFIX}load_id"]
    if recorded_load_ids(loads, [load_id]):
        return None  # recorded meanwhile (a retry after a lost commit race)
    ranges = offsets_of(info)
    covered: dict[TopicPartition, tuple[int, int]] = {}
    transactions: dict[str, int] = {}
    for tp, (first, last) in sorted(ranges.items()):
        known = loads.transaction_version(app_id(tp))
        if known is not None and last <= known:
            continue
        covered[tp] = (first if known is None else max(first, known + 1), last)
        # Only as far as both tables landed: a part missing from one of them is re-read and landed later.
        complete = min(_or_minus_one(w.transaction_version(app_id(tp))) for w in (quarantine, table))
        if min(last, complete) > (-1 if known is None else known):
            transactions[app_id(tp)] = min(last, complete)
    metrics = {role: c.get("operationMetrics") or {} for role, c in by_role.items()}
    load = LoadRecord(
        load_id=load_id,
        run_id=info.get(f"{_PREFIX}run_id", ""),
        pipeline=info.get(f"{_PREFIX}pipeline", ""),
        table_name=info.get(f"{_PREFIX}table_name", table.name),
        table_uri=table_uri,
        consumer_group=info.get(f"{_PREFIX}consumer_group", ""),
        contract_name=info.get(f"{_PREFIX}contract_name", ""),
        contract_version=int(info.get(f"{_PREFIX}contract_version", 0)),
        contract_hash=info.get(f"{_PREFIX}contract_hash", ""),
        rows_landed=int(metrics.get("table", {}).get("num_added_rows", 0)),
        rows_quarantined=int(metrics.get("quarantine", {}).get("num_added_rows", 0)),
        bytes=int(info.get(f"{_PREFIX}bytes", 0)),
        close_reason=info.get(f"{_PREFIX}close_reason", "unknown"),
        offsets=tuple(OffsetRange(tp.topic, tp.partition, f, l) for tp, (f, l) in covered.items()),
        delta_version=by_role["table"]["version"] if "table" in by_role else None,
        quarantine_delta_version=by_role["quarantine"]["version"] if "quarantine" in by_role else None,
        started_at=_parse_time(info.get(f"{_PREFIX}started_at")),
        committed_at=dt.datetime.fromtimestamp(max(int(c["timestamp"]) for c in by_role.values()) / 1000, dt.UTC),
    )
    loads.append(load.to_arrow(), transactions=transactions, metadata=commit_metadata(load, ranges))
    return load


def _or_minus_one(version: int | None) -> int:
    return -1 if version is None else version


def _parse_time(value: object) -> dt.datetime:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(0, dt.UTC)
