"""Rebuilding a pipeline's OpenLineage events from the lake: the lake is the lineage outbox of last resort.

Every load has a row in ``_loads`` (run id, contract name/version/hash, offsets, row counts, the Delta versions it
produced, times), and every Delta commit carries the same in its ``custom_metadata``. From those, each run becomes
a ``START`` (at its first load) and one ``RUNNING`` per load, the same events the live observer sends, so the
catalog can be filled after it was down, lost its database, or never received them. Re-sending is harmless: the
catalog keys loads by load id and versions by Delta version.

What the lake does not know is how a run ended: rebuilt runs get no ``COMPLETE``/``FAIL``. Datasets are described
from the pipeline's contract when a load's contract hash is the contract's; otherwise from the Delta table's schema at
the load's version (then without tags, documentation and the topic's field list, which only the contract knows). A
quarantine replay's loads (``close_reason: replay``) are rebuilt as runs of the replay's own job
(:mod:`.replay_events`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError
from openlineage.client.event_v2 import RunEvent, RunState

from contracts import schema_hash
from streamproc.config import PipelineConfig
from streamproc.config.resolve import PipelineContracts
from streamproc.errors import StorageUnavailableError
from streamproc.lineage.loads import LoadRecord, OffsetRange
from streamproc.observe.openlineage import events
from streamproc.observe.openlineage.describe import RunDescription, describe_run, with_table_schema
from streamproc.observe.openlineage.replay_events import (
    ReplayRun,
    describe_replay,
    replay_event,
    with_replay_table_schema,
)
from streamproc.sinks.reader import read_table
from streamproc.sources import open_source

__all__ = ["describe_load_run", "read_loads", "rebuild_events", "table_schema_at"]


def read_loads(
    config: PipelineConfig,
    contracts: PipelineContracts,
    *,
    run_ids: Collection[str] | None = None,
    since: dt.datetime | None = None,
) -> list[LoadRecord]:
    """The pipeline's loads from ``_loads`` (this pipeline's name, every route's table), by commit time.

    Raises:
        StorageUnavailableError: ``_loads`` cannot be read (a lake without any load yet has no ``_loads``: ``[]``).
    """
    try:
        table = DeltaTable(config.sink.resolved_loads_uri, storage_options=config.sink.storage_options or None)
    except TableNotFoundError:
        return []
    except (OSError, DeltaError) as exc:
        raise StorageUnavailableError(f"cannot read {config.sink.resolved_loads_uri}: {exc}") from exc
    rows = read_table(table)
    keep = pc.and_(
        pc.equal(rows["pipeline"], config.name),
        pc.is_in(rows["table_name"], pa.array([route.table_name for route in contracts.routes])),
    )
    if run_ids:
        keep = pc.and_(keep, pc.is_in(rows["run_id"], pa.array(sorted(run_ids))))
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(rows["committed_at"], pa.scalar(since, pa.timestamp("us", tz="UTC"))))
    loads = [_load_of(row) for row in rows.filter(keep).to_pylist()]
    return sorted(loads, key=lambda load: (load.committed_at, load.load_id))


def rebuild_events(
    config: PipelineConfig,
    contracts: PipelineContracts,
    *,
    run_ids: Collection[str] | None = None,
    since: dt.datetime | None = None,
) -> Iterator[RunEvent]:
    """The events of the pipeline's runs that have loads: per run, oldest run first, a ``START`` at its first
    load's start, then a ``RUNNING`` per load (of any route's table) at its commit time.

    Raises:
        StorageUnavailableError: ``_loads`` or a table's log cannot be read.
    """
    loads = read_loads(config, contracts, run_ids=run_ids, since=since)
    by_run: dict[str, list[LoadRecord]] = {}
    for load in loads:  # by commit time: runs come in the order of their first load
        by_run.setdefault(load.run_id, []).append(load)
    described: dict[tuple[str, str], RunDescription] = {}
    source_uris = open_source(config).source_uris

    def description(load: LoadRecord) -> RunDescription:
        key = (load.table_name, load.contract_hash)
        if key not in described:
            described[key] = describe_load_run(config, contracts, load, source_uris=source_uris)
        return replace(described[key], run_id=load.run_id)

    for run_loads in by_run.values():
        if run_loads[0].close_reason == "replay":
            yield from _replay_events(config, contracts, run_loads)
            continue
        yield events.start_event(description(run_loads[0]), at=run_loads[0].started_at)
        for load in run_loads:
            yield events.load_event(description(load), [load], at=load.committed_at)


def describe_load_run(
    config: PipelineConfig,
    contracts: PipelineContracts,
    load: LoadRecord,
    *,
    source_uris: Mapping[str, str] | None = None,
) -> RunDescription:
    """The description of ``load``'s run (its ``run_id``) for its events: every route's table from its contract;
    ``load``'s table from the Delta table's schema at the load's version (as the live pipeline reads it: columns of
    earlier versions and ``evolve``'s stay), under the load's contract version when its hash is not the contract's
    (an inferred version after ``evolve``, or an earlier declared one).

    Args:
        source_uris: topic → ``_source`` URI; default: the config's source's.

    Raises:
        StorageUnavailableError: the table's log cannot be read at that version.
    """
    if source_uris is None:
        source_uris = open_source(config).source_uris
    default = contracts.default
    run = describe_run(
        run_id=load.run_id,
        namespace=config.lineage.namespace,
        pipeline=config.name,
        contract=default.contract,
        source_uris=source_uris,
        table_uri=default.sink.table_uri,
        quarantine_uri=default.sink.resolved_quarantine_uri,
        emission=config.lineage.emit,
        window_seconds=config.lineage.every_seconds,
        routes=[(r.contract, r.sink.table_uri, r.sink.resolved_quarantine_uri) for r in contracts.routes[1:]],
        pii_actions=config.pii.actions,
    )
    route = next((r for r in contracts.routes if r.table_name == load.table_name), default)
    if route is default and load.contract_hash != schema_hash(route.contract):
        run = replace(run, contract_name=load.contract_name, contract_version=load.contract_version)
    # The table as it was then, as the live pipeline describes it (its columns, not the contract's: a version that
    # removed a field leaves its column in the table); tags, documentation and owner are the contract's, for the
    # columns it declares.
    schema = table_schema_at(
        route.sink.table_uri, version=load.delta_version, storage_options=config.sink.storage_options
    )
    return with_table_schema(run, schema, table_name=route.table_name)


def _replay_events(
    config: PipelineConfig, contracts: PipelineContracts, loads: list[LoadRecord]
) -> Iterator[RunEvent]:
    """A quarantine replay's run (``close_reason: replay``, :mod:`streamproc.observe.openlineage.replay_events`): a
    ``START`` at its first load's start and a ``RUNNING`` per load. Its inputs are the quarantine tables of its
    loads' tables (``_loads`` does not say which quarantine an event a replay routed elsewhere came from). Each table
    has its Delta schema at the version of its first load, and again at each load under another contract version
    (as the live replay describes it)."""
    routes = {r.table_name: r for r in contracts.routes}
    quarantines: dict[str, tuple[int | None, list[str]]] = {}
    for load in loads:
        sink = routes[load.table_name].sink
        entry = quarantines.setdefault(sink.resolved_quarantine_uri, (load.quarantine_delta_version, []))
        entry[1].append(sink.table_uri)
    run = describe_replay(
        config,
        contracts,
        run_id=loads[0].run_id,
        quarantines=[(q, version, list(dict.fromkeys(tables))) for q, (version, tables) in quarantines.items()],
    )
    schemas: dict[tuple[str, str], pa.Schema] = {}  # (table, contract hash) → the schema at its first load

    def described(run: ReplayRun, load: LoadRecord) -> ReplayRun:
        key = (load.table_name, load.contract_hash)
        if key not in schemas:
            schemas[key] = table_schema_at(
                routes[load.table_name].sink.table_uri,
                version=load.delta_version,
                storage_options=config.sink.storage_options,
            )
        return with_replay_table_schema(run, load.table_name, schemas[key])

    first: dict[str, LoadRecord] = {}
    for load in loads:
        first.setdefault(load.table_name, load)
    start = run
    for load in first.values():
        start = described(start, load)
    yield replay_event(start, RunState.START, at=loads[0].started_at)
    for load in loads:
        yield replay_event(described(run, load), RunState.RUNNING, load=load, at=load.committed_at)


def table_schema_at(table_uri: str, *, version: int | None, storage_options: Mapping[str, str]) -> pa.Schema:
    """The Arrow schema a Delta table's log has at ``version`` (``None``: the newest): the columns that landed.

    Raises:
        StorageUnavailableError: the log cannot be read at that version (or the table does not exist).
    """
    try:
        table = DeltaTable(table_uri, version=version, storage_options=dict(storage_options) or None)
        return pa.schema(table.schema().to_arrow())
    except (OSError, DeltaError) as exc:
        raise StorageUnavailableError(f"cannot read {table_uri} at version {version}: {exc}") from exc


def _load_of(row: dict[str, object]) -> LoadRecord:
    offsets = tuple(
        OffsetRange(r["topic"], r["partition"], r["first_offset"], r["last_offset"])  # type: ignore[index]
        for r in row["offsets"]  # type: ignore[union-attr]
    )
    return LoadRecord(**{**row, "offsets": offsets})  # type: ignore[arg-type]
