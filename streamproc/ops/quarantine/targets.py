"""A table a quarantine replays into: its tables opened for the replay (resolutions, table, ``_loads``), its judge,
its replay loads' ``_loads`` rows, and completing the load a crash interrupted there.

Completing an interrupted load (:attr:`~streamproc.sinks.txn.ReplayPosition.interrupted`: its resolutions committed,
its table or ``_loads`` commit not): the rows its resolutions say it replayed are read from the quarantine, judged
again and landed under the load's own number and id (:meth:`~streamproc.sinks.replay_commit.ReplayCommitter.finish`
skips what the table holds already). Judging is deterministic, so they are the rows the load had; if the contract
changed meanwhile, the rows it now refuses are not landed and get a ``still_failing`` resolution, newer than the
load's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from streamproc.config.resolve import Route
from streamproc.lineage.loads import LOADS_SCHEMA, METADATA_PREFIX, LoadRecord, OffsetRange
from streamproc.ops.quarantine.judge import Candidate, ReplayJudge
from streamproc.ops.quarantine.report import TableReport
from streamproc.ops.quarantine.rows import Key, QuarantineSnapshot, RowState
from streamproc.sinks.delta import DeltaTableWriter
from streamproc.sinks.evolution import superset_schema
from streamproc.sinks.reader import read_table
from streamproc.sinks.replay_commit import ReplayCommitter, replay_metadata
from streamproc.sinks.resolutions import resolution_rows
from streamproc.sinks.txn import RECOVERY_COMMITS, ReplayPosition, ReplayTables, replay_app_id

__all__ = ["Target", "candidate_of", "complete_interrupted", "left_interrupted", "open_target"]


@dataclass(eq=False)
class Target:
    """One table a quarantine replays into.

    Attributes:
        route: the table's route (contract, sink); judge: its contract as it is now.
        committer, tables: the replay's committer and tables (``None`` in a dry run).
        known: the newest replay load number the tables hold (the next load is ``known + 1``).
        interrupted: a load a crash left between its commits, to complete first (``None``: none).
        table_holds: the table holds ``interrupted`` already (only its ``_loads`` row is missing).
        report: what the replay did to it.
    """

    route: Route
    judge: ReplayJudge
    committer: ReplayCommitter | None
    tables: ReplayTables | None
    known: int
    report: TableReport
    pipeline: str
    consumer_group: str
    interrupted: int | None = None
    table_holds: bool = False

    def load_record(
        self,
        load_id: str,
        landed: Sequence[Candidate],
        quarantine_version: int,
        *,
        run_id: str,
        started_at: dt.datetime,
    ) -> LoadRecord:
        """The ``_loads`` row of a replay load that landed ``landed`` (before its commits: no ``delta_version``):
        ``close_reason: replay``, no quarantined rows, ``offsets`` the landed events' coordinates, and
        ``quarantine_delta_version`` the quarantine version read."""
        name, version, schema_hash = self.judge.contract
        sink = self.route.sink
        return LoadRecord(
            load_id=load_id,
            run_id=run_id,
            pipeline=self.pipeline,
            table_name=sink.table_name,
            table_uri=sink.table_uri,
            consumer_group=self.consumer_group,
            contract_name=name,
            contract_version=version,
            contract_hash=schema_hash,
            rows_landed=len(landed),
            rows_quarantined=0,
            bytes=sum(c.size for c in landed),
            close_reason="replay",
            offsets=ranges_of(c.key for c in landed),
            delta_version=None,
            quarantine_delta_version=quarantine_version,
            started_at=started_at,
            committed_at=started_at,
        )


def open_target(
    route: Route,
    judge: ReplayJudge,
    *,
    quarantine: str,
    report: TableReport,
    resolutions: DeltaTableWriter | None,
    pipeline: str,
    consumer_group: str,
) -> Target:
    """``route``'s table as a target of the quarantine table named ``quarantine``: the tables opened (created when
    absent), the judge told the table's schema, the replay's position read. ``resolutions`` is ``None`` for a dry
    run: then existing tables are only read, and nothing is created, but the table's schema is checked as the
    replay checks it (a dry run does not promise rows a table of another type would refuse).

    Raises:
        SchemaMismatchError: an existing table's schema does not match.
        StorageUnavailableError: a table cannot be read or written.
    """
    sink = route.sink
    report.contract = f"{judge.contract[0]} v{judge.contract[1]}"
    options = sink.storage_options
    if resolutions is None:
        existing = DeltaTableWriter.existing(sink.table_uri, name=sink.table_name, storage_options=options)
        schema = judge.table_schema if existing is None else superset_schema(
            existing.schema, judge.table_schema, uri=sink.table_uri, add_nullable=judge.accepted
        )
        judge.open(schema)
        return Target(route, judge, None, None, 0, report, pipeline, consumer_group)
    table = DeltaTableWriter(
        sink.table_uri,
        judge.table_schema,
        name=sink.table_name,
        add_nullable_columns=judge.accepted,
        storage_options=options,
    )
    loads = DeltaTableWriter(sink.resolved_loads_uri, LOADS_SCHEMA, name="_loads", storage_options=options)
    tables = ReplayTables(sink.table_name, quarantine, resolutions, table, loads)
    committer = ReplayCommitter(tables)
    committer.open()
    judge.open(table.schema)
    position = committer.position()
    interrupted = position.interrupted
    return Target(
        route,
        judge,
        committer,
        tables,
        position.last,
        report,
        pipeline,
        consumer_group,
        interrupted=interrupted,
        table_holds=interrupted is not None and position.table >= interrupted,
    )


def left_interrupted(source: Route, targets: Sequence[Route]) -> bool:
    """Whether a replay of ``source``'s quarantine into one of ``targets`` left a load a crash interrupted (to be
    completed by the next replay), read without creating or changing any table.

    Raises:
        StorageUnavailableError: a table cannot be read.
    """
    resolutions = DeltaTableWriter.existing(
        source.sink.resolved_resolutions_uri,
        name=source.sink.resolutions_name,
        storage_options=source.sink.storage_options,
    )
    if resolutions is None:  # a load's resolutions are its first commit: no load began
        return False
    for target in targets:
        app_id = replay_app_id(target.table_name, source.sink.quarantine_name)
        sink = target.sink
        table = DeltaTableWriter.existing(sink.table_uri, name=sink.table_name, storage_options=sink.storage_options)
        loads = DeltaTableWriter.existing(sink.resolved_loads_uri, name="_loads", storage_options=sink.storage_options)
        held = [(t.transaction_version(app_id) or 0) if t is not None else 0 for t in (resolutions, table, loads)]
        if ReplayPosition(*held).interrupted is not None:
            return True
    return False


def complete_interrupted(target: Target, snapshot: QuarantineSnapshot, *, run_id: str) -> LoadRecord:
    """Complete ``target.interrupted`` (see the module docstring); ``run_id`` names corrective resolutions.

    Returns:
        The load's ``_loads`` row (its own id and run).

    Raises:
        ValueError: ``target`` has no interrupted load (or is a dry run's).
        StorageUnavailableError: a table cannot be read or written.
    """
    tables, committer, sequence = target.tables, target.committer, target.interrupted
    if tables is None or committer is None or sequence is None:
        raise ValueError("no interrupted replay load to complete")
    p = METADATA_PREFIX
    name = tables.table_name.replace("'", "''")
    rows = read_table(
        tables.resolutions.uri,
        where=f"replay_sequence = {int(sequence)} AND table_name = '{name}'",
        storage_options=target.route.sink.storage_options,
    ).to_pylist()
    first: dict[str, Any] = rows[0] if rows else {}
    load_id = first.get("replay_load_id") or uuid.uuid4().hex
    info = next((c for c in tables.resolutions.history(RECOVERY_COMMITS) if c.get(f"{p}load_id") == load_id), {})
    started = info.get(f"{p}started_at")
    started_at = dt.datetime.fromisoformat(started) if isinstance(started, str) else dt.datetime.now(dt.UTC)
    quarantine_version = int(info.get(f"{p}quarantine_version", snapshot.version))
    keys = {
        (r["quarantine_load_id"], r["_topic"], r["_partition"], r["_offset"]) for r in rows if r["status"] == "replayed"
    }
    candidates = [candidate_of(row, None) for row in snapshot.named(keys)]
    if target.table_holds:
        landed, accepted = target.judge.table_schema.empty_table(), candidates
    else:
        now = dt.datetime.now(dt.UTC)
        judgement = target.judge.judge(candidates, load_id=load_id, ingested_at=now)
        landed, accepted = judgement.landed, [candidates[i] for i in judgement.landed_index]
        refused = [i for i, status in enumerate(judgement.statuses) if status == "still_failing"]
        if refused:  # the contract changed since the load was planned: the resolutions say so
            correction = resolution_rows(
                [candidates[i].key for i in refused],
                ["still_failing"] * len(refused),
                [judgement.violations[i] for i in refused],
                table_name=tables.table_name,
                load_id=load_id,
                run_id=run_id,
                contract=target.judge.contract,
                resolved_at=now,
                sequence=sequence,
            )
            tables.resolutions.append(correction, transactions={}, metadata={f"{p}load_id": load_id})
    load = target.load_record(
        load_id, accepted, quarantine_version, run_id=first.get("replay_run_id") or run_id, started_at=started_at
    )
    metadata = replay_metadata(
        load, app_id=tables.app_id, quarantine=snapshot.name, quarantine_version=quarantine_version
    )
    return committer.finish(sequence, landed, load, metadata=metadata).load


def candidate_of(row: dict[str, Any], resolved: RowState | None) -> Candidate:
    """A quarantine row as a candidate of a replay (``resolved``: its newest resolution, if any)."""
    return Candidate(
        key=(row["_load_id"], row["_topic"], row["_partition"], row["_offset"]),
        source=row["_source"],
        timestamp=row["_source_timestamp"],
        raw_key=row["raw_key"],
        payload=row["raw_payload"],
        refused_by=resolved.contract_version if resolved is not None else row["contract_version"],
        refused_hash=resolved.contract_hash if resolved is not None else row["contract_hash"],
        prior=tuple(resolved.violations if resolved is not None else row["violations"]),
    )


def ranges_of(keys: Iterable[Key]) -> tuple[OffsetRange, ...]:
    """The events' coordinates as inclusive ranges of consecutive offsets, per topic and partition."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    for _, topic, partition, offset in keys:
        by_partition.setdefault((topic, partition), []).append(offset)
    found = []
    for (topic, partition), offsets in sorted(by_partition.items()):
        offsets.sort()
        first = last = offsets[0]
        for offset in offsets[1:]:
            if offset > last + 1:
                found.append(OffsetRange(topic, partition, first, last))
                first = offset
            last = offset
        found.append(OffsetRange(topic, partition, first, last))
    return tuple(found)
