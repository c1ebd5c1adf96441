"""The OpenLineage events of a quarantine replay's run (``streamproc quarantine replay``): a job and a run of its own.

==========  =========================================================================================================
event       content
==========  =========================================================================================================
START       job ``<pipeline>.quarantine_replay`` (``jobType``: ``BATCH``, integration ``STREAMPROC``); inputs: the
            quarantine tables it reads, each with the Delta ``version`` read; outputs: the tables it may land into
RUNNING     per replay load: its table with the Delta ``version`` and ``outputStatistics`` of the load, and the
            ``streamproc_load`` run facet (``closeReason: replay``, the load id, the contract version that accepted
            the rows, their original ``offsets``); each table's ``columnLineage``: its columns read out of the
            quarantines' ``raw_payload``
COMPLETE    the replay ended; ``FAIL`` with ``errorMessage`` after an error
==========  =========================================================================================================

So the catalog (and its UI's job and dataset pages) shows each replay as a run reading the quarantine dataset and
writing the table, with its loads. Built live by :mod:`streamproc.observe.openlineage.replay`, and from ``_loads``
by ``streamproc lineage backfill`` (:mod:`streamproc.observe.openlineage.backfill`).

A table is described as the pipeline's own load events describe it: with the schema its Delta log has
(:func:`with_replay_table_schema`), not its contract's, so a column the PII policy drops is not a column of the
replay's output either; the contract's schema only stands in for a table that does not exist yet.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
)

from streamproc.config import PipelineConfig
from streamproc.config.resolve import PipelineContracts
from streamproc.lineage.loads import LoadRecord
from streamproc.observe.openlineage import facets as f
from streamproc.observe.openlineage.describe import (
    TableDescription,
    quarantine_description,
    table_description,
    table_with_schema,
)
from streamproc.observe.openlineage.events import engine_facet, table_facets
from streamproc.observe.openlineage.naming import DatasetId

__all__ = ["ReplayRun", "describe_replay", "replay_event", "replay_job_name", "with_replay_table_schema"]


def replay_job_name(pipeline: str) -> str:
    """The OpenLineage job of a pipeline's quarantine replays: ``<pipeline>.quarantine_replay``."""
    return f"{pipeline}.quarantine_replay"


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """What every event of one replay run says: its job, its run, the quarantines it reads, the tables it writes.

    Attributes:
        tables: table name → its description (the outputs).
        replayed_from: table name → the quarantine datasets replayed into it (its columns' lineage).
    """

    run_id: str
    namespace: str
    pipeline: str
    inputs: tuple[InputDataset, ...]
    tables: dict[str, TableDescription] = field(default_factory=dict)
    replayed_from: dict[str, tuple[DatasetId, ...]] = field(default_factory=dict)


def describe_replay(
    config: PipelineConfig,
    contracts: PipelineContracts,
    *,
    run_id: str,
    quarantines: Sequence[tuple[str, int | None, Sequence[str]]],
) -> ReplayRun:
    """A replay run: each quarantine table read (its location, the Delta version read, and the locations of the
    tables it may replay into), described from the pipeline's contracts. Give each table that exists its Delta
    schema with :func:`with_replay_table_schema`.

    Raises:
        KeyError: a location is not one of the pipeline's routes' tables.
    """
    by_table = {r.sink.table_uri: r for r in contracts.routes}
    by_quarantine = {r.sink.resolved_quarantine_uri: r for r in contracts.routes}
    namespace = config.lineage.namespace
    inputs = []
    tables: dict[str, TableDescription] = {}
    replayed_from: dict[str, tuple[DatasetId, ...]] = {}
    for location, version, targets in quarantines:
        info = by_quarantine[location].contract.__contract__
        described = quarantine_description(location, tags=info.tags, contract_name=info.name, owner=info.owner)
        facets = table_facets(described, (), namespace=namespace)
        if version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                producer=f.PRODUCER, datasetVersion=str(version)
            )
        inputs.append(InputDataset(namespace=described.dataset.namespace, name=described.dataset.name, facets=facets))
        for target in targets:
            route = by_table[target]
            tables[route.table_name] = table_description(route.contract, target, config.pii.actions)
            replayed_from[route.table_name] = (*replayed_from.get(route.table_name, ()), described.dataset)
    return ReplayRun(run_id, namespace, config.name, tuple(inputs), tables, replayed_from)


def with_replay_table_schema(run: ReplayRun, table_name: str, schema: pa.Schema) -> ReplayRun:
    """``run`` with the schema table ``table_name``'s Delta log has (read by the caller, at the version the event
    reports), applied as for the pipeline's load events (:func:`~.describe.table_with_schema`).

    Raises:
        KeyError: ``run`` does not write ``table_name``.
    """
    return replace(run, tables={**run.tables, table_name: table_with_schema(run.tables[table_name], schema)})


def replay_event(
    run: ReplayRun,
    state: RunState,
    *,
    load: LoadRecord | None = None,
    error: BaseException | None = None,
    at: dt.datetime | None = None,
) -> RunEvent:
    """One event of ``run``: ``START`` / ``COMPLETE`` (every table as an output), ``RUNNING`` for ``load`` (its
    table, version and statistics, and its ``streamproc_load`` facet), ``FAIL`` with ``error``.

    Raises:
        ValueError: a ``RUNNING`` event without a load, or a load of a table the run does not describe.
    """
    run_facets: dict[str, Any] = {"processing_engine": engine_facet()}
    outputs = [_output(run, name, table) for name, table in run.tables.items()]
    if state == RunState.RUNNING:
        if load is None or load.table_name not in run.tables:
            raise ValueError("a replay's RUNNING event reports a load of one of its tables")
        table = run.tables[load.table_name]
        outputs = [_output(run, load.table_name, table, load)]
        run_facets["streamproc_load"] = f.load_facet(load, table=table.dataset.name)
    if error is not None:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            producer=f.PRODUCER,
            message=f"{type(error).__name__}: {error}",
            programmingLanguage="PYTHON",
            stackTrace="".join(traceback.format_exception(error)) or None,
        )
    return RunEvent(
        eventType=state,
        eventTime=(at or dt.datetime.now(dt.UTC)).isoformat(),
        producer=f.PRODUCER,
        run=Run(runId=run.run_id, facets=run_facets),
        job=Job(namespace=run.namespace, name=replay_job_name(run.pipeline), facets=_job_facets(run)),
        inputs=list(run.inputs),
        outputs=outputs,
    )


def _output(run: ReplayRun, name: str, table: TableDescription, load: LoadRecord | None = None) -> OutputDataset:
    facets = table_facets(table, (), namespace=run.namespace, replayed_from=run.replayed_from.get(name, ()))
    output_facets: dict[str, Any] = {}
    if load is not None:
        if load.delta_version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                producer=f.PRODUCER, datasetVersion=str(load.delta_version)
            )
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            producer=f.PRODUCER, rowCount=load.rows_landed, size=load.bytes
        )
    ds = table.dataset
    return OutputDataset(namespace=ds.namespace, name=ds.name, facets=facets, outputFacets=output_facets)


def _job_facets(run: ReplayRun) -> dict[str, Any]:
    tables = ", ".join(sorted(run.tables)) or "its tables"
    return {
        "jobType": job_type_job.JobTypeJobFacet(
            producer=f.PRODUCER, processingType="BATCH", integration="STREAMPROC", jobType="JOB"
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            producer=f.PRODUCER,
            description=f"streamproc quarantine replay of pipeline {run.pipeline}: quarantined events re-validated "
            f"against the contracts as they are now, those that pass landed into {tables}.",
        ),
    }
