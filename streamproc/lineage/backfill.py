"""Rebuilding a pipeline's OpenLineage events from the lake: the lake is the lineage outbox of last resort.

Every load has a row in ``_loads`` (run id, contract name/version/hash, offsets, row counts, the Delta versions it
produced, times), and every Delta commit carries the same in its ``custom_metadata``. From those, each run becomes
a ``START`` (at its first load) and one ``RUNNING`` per load, the same events the live observer sends, so the
catalog can be filled after it was down, lost its database, or never received them. Re-sending is harmless: the
catalog keys loads by load id and versions by Delta version.

What the lake does not know is how a run ended: rebuilt runs get no ``COMPLETE``/``FAIL``. Datasets are described
from the pipeline's contract when a load's contract hash is the contract's; otherwise from the Delta table's schema at
the load's version (then without tags, documentation and the topic's field list, which only the contract knows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError
from openlineage.client.event_v2 import RunEvent

from contracts import Contract, load_contract, schema_hash
from streamproc.config import PipelineConfig
from streamproc.errors import StorageUnavailableError
from streamproc.landing import table_name_of
from streamproc.lineage import events
from streamproc.lineage.loads import LoadRecord, OffsetRange
from streamproc.sources import open_source
from streamproc.sinks.reader import read_table

__all__ = ["describe_load_run", "read_loads", "rebuild_events"]


def read_loads(
    config: PipelineConfig, *, run_ids: Collection[str] | None = None, since: dt.datetime | None = None
) -> list[LoadRecord]:
    """The pipeline's loads from ``_loads`` (this pipeline's name and table), by commit time.

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
        pc.equal(rows["table_name"], table_name_of(config.sink.table_uri)),
    )
    if run_ids:
        keep = pc.and_(keep, pc.is_in(rows["run_id"], pa.array(sorted(run_ids))))
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(rows["committed_at"], pa.scalar(since, pa.timestamp("us", tz="UTC"))))
    loads = [_load_of(row) for row in rows.filter(keep).to_pylist()]
    return sorted(loads, key=lambda load: (load.committed_at, load.load_id))


def rebuild_events(
    config: PipelineConfig, *, run_ids: Collection[str] | None = None, since: dt.datetime | None = None
) -> Iterator[RunEvent]:
    """The events of the pipeline's runs that have loads: per run, oldest run first, a ``START`` at its first
    load's start, then a ``RUNNING`` per load at its commit time.

    Raises:
        StorageUnavailableError: ``_loads`` or a table's log cannot be read.
        ContractError: the config's contract cannot be loaded.
    """
    loads = read_loads(config, run_ids=run_ids, since=since)
    contract = load_contract(config.contract)
    by_run: dict[str, list[LoadRecord]] = {}
    for load in loads:  # by commit time: runs come in the order of their first load
        by_run.setdefault(load.run_id, []).append(load)
    descriptions: dict[str, events.RunDescription] = {}
    for run_id, run_loads in by_run.items():
        template = descriptions.get(run_loads[0].contract_hash)
        if template is None:
            template = descriptions[run_loads[0].contract_hash] = describe_load_run(config, contract, run_loads[0])
        run = _with_run_id(template, run_id)
        yield events.start_event(run, at=run_loads[0].started_at)
        for load in run_loads:
            yield events.load_event(run, [load], at=load.committed_at)


def describe_load_run(
    config: PipelineConfig,
    contract: type[Contract],
    load: LoadRecord,
    *,
    source_uris: Mapping[str, str] | None = None,
) -> events.RunDescription:
    """The description of ``load``'s run (its ``run_id``) for its events: from ``contract`` when the load's contract
    hash is the contract's, else from the Delta table's schema at the load's version.

    Args:
        source_uris: topic → ``_source`` URI; default: the config's source's.

    Raises:
        StorageUnavailableError: the table's log cannot be read at that version.
    """
    if source_uris is None:
        source_uris = open_source(config).source_uris
    common = {
        "run_id": load.run_id,
        "namespace": config.lineage.namespace,
        "pipeline": config.name,
        "emission": config.lineage.emit,
        "window_seconds": config.lineage.every_seconds,
        "pii_actions": config.pii.actions,
    }
    run = events.describe_run(
        contract=contract,
        source_uris=source_uris,
        table_uri=config.sink.table_uri,
        quarantine_uri=config.sink.resolved_quarantine_uri,
        **common,
    )
    if load.contract_hash == schema_hash(contract):
        return run
    # Another version (an inferred one after ``evolve``, or an earlier declared one): the table as it was then;
    # tags, documentation and owner are the config's contract's, for the columns it declares.
    run = replace(run, contract_name=load.contract_name, contract_version=load.contract_version)
    return events.with_table_schema(run, _schema_at(config, load.delta_version))


def _schema_at(config: PipelineConfig, version: int | None) -> pa.Schema:
    try:
        table = DeltaTable(config.sink.table_uri, version=version, storage_options=config.sink.storage_options or None)
        return pa.schema(table.schema().to_arrow())
    except (OSError, DeltaError) as exc:
        raise StorageUnavailableError(f"cannot read {config.sink.table_uri} at version {version}: {exc}") from exc


def _with_run_id(run: events.RunDescription, run_id: str) -> events.RunDescription:
    return replace(run, run_id=run_id)


def _load_of(row: dict[str, object]) -> LoadRecord:
    offsets = tuple(
        OffsetRange(r["topic"], r["partition"], r["first_offset"], r["last_offset"])  # type: ignore[index]
        for r in row["offsets"]  # type: ignore[union-attr]
    )
    return LoadRecord(**{**row, "offsets": offsets})  # type: ignore[arg-type]
