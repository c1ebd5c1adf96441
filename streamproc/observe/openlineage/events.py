"""The OpenLineage run events of one streamproc run: START, RUNNING per load (or per window), COMPLETE or FAIL.

One consumer process is one run of a streaming job (``jobType``: ``processingType=STREAMING``, integration
``STREAMPROC``, job type ``JOB``). Inputs are the source topics (or the file); outputs are the Delta table and its
quarantine table, and with routing every route's table and quarantine table, each its own dataset with its own
schema, tags and column lineage (its contract's). START, COMPLETE and FAIL list every output; a RUNNING event lists
the tables whose loads it reports, and each load's ``streamproc_load`` names its own table. Every event describes
its datasets completely (schema, tags, column lineage, symlinks, ...), so each one can be read alone; RUNNING events
add the Delta ``version`` each table reached and the ``outputStatistics`` of the loads they report, and the
``streamproc_load`` run facet (see :mod:`streamproc.observe.openlineage.facets`).

Events are built from a :class:`~streamproc.observe.openlineage.describe.RunDescription`.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openlineage.client import __version__ as openlineage_version
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    ownership_job,
    processing_engine_run,
)

from streamproc import __version__
from streamproc.lineage.loads import LoadRecord
from streamproc.observe.openlineage import facets as f
from streamproc.observe.openlineage.describe import InputDescription, RouteDescription, RunDescription, TableDescription
from streamproc.observe.openlineage.naming import DatasetId

__all__ = ["complete_event", "engine_facet", "fail_event", "load_event", "start_event", "table_facets"]

def start_event(run: RunDescription, *, at: dt.datetime | None = None) -> RunEvent:
    """``START``: the run began; datasets with their static facets."""
    return _event(run, RunState.START, at, outputs=_outputs(run, ()))


def load_event(run: RunDescription, loads: Sequence[LoadRecord], *, at: dt.datetime | None = None) -> RunEvent:
    """``RUNNING`` for one load, or several (a window, oldest first): the newest load's Delta versions, row and
    byte totals in ``outputStatistics``, the newest load in ``streamproc_load`` and, for several, all of them in
    ``streamproc_loads``.

    Raises:
        ValueError: ``loads`` is empty.
    """
    if not loads:
        raise ValueError("a RUNNING event reports at least one load")
    datasets = {route.table.logical_name: route.table.dataset.name for route in run.outputs}

    def facet(load: LoadRecord) -> f.StreamprocLoadRunFacet:
        return f.load_facet(load, table=datasets.get(load.table_name, run.table.dataset.name))

    run_facets: dict[str, Any] = {"streamproc_load": facet(loads[-1])}
    if len(loads) > 1:
        run_facets["streamproc_loads"] = f.StreamprocLoadsRunFacet(producer=f.PRODUCER, loads=[facet(l) for l in loads])
    return _event(run, RunState.RUNNING, at, outputs=_outputs(run, loads), run_facets=run_facets)


def complete_event(run: RunDescription, *, at: dt.datetime | None = None) -> RunEvent:
    """``COMPLETE``: the run stopped gracefully (caught up, or SIGINT/SIGTERM after flushing)."""
    return _event(run, RunState.COMPLETE, at, outputs=_outputs(run, ()))


def fail_event(run: RunDescription, error: BaseException | str, *, at: dt.datetime | None = None) -> RunEvent:
    """``FAIL`` with the ``errorMessage`` facet: a runtime error, a ``freeze`` contract stop, or a process that
    ended without saying how (``error`` as text)."""
    if isinstance(error, BaseException):
        message = f"{type(error).__name__}: {error}"
        stack = "".join(traceback.format_exception(error)) or None
    else:
        message, stack = error, None
    facet = error_message_run.ErrorMessageRunFacet(
        producer=f.PRODUCER, message=message, programmingLanguage="PYTHON", stackTrace=stack
    )
    return _event(run, RunState.FAIL, at, outputs=_outputs(run, ()), run_facets={"errorMessage": facet})


def _event(
    run: RunDescription,
    state: RunState,
    at: dt.datetime | None,
    *,
    outputs: list[OutputDataset],
    run_facets: Mapping[str, Any] | None = None,
) -> RunEvent:
    return RunEvent(
        eventType=state,
        eventTime=(at or dt.datetime.now(dt.UTC)).isoformat(),
        producer=f.PRODUCER,
        run=Run(runId=run.run_id, facets={"processing_engine": engine_facet(), **(run_facets or {})}),
        job=Job(namespace=run.namespace, name=run.pipeline, facets=_job_facets(run)),
        inputs=[_input(i) for i in run.inputs],
        outputs=outputs,
    )


def engine_facet() -> processing_engine_run.ProcessingEngineRunFacet:
    """Spec ``processing_engine`` run facet: streamproc and the openlineage-python version it emits with."""
    return processing_engine_run.ProcessingEngineRunFacet(
        producer=f.PRODUCER, version=__version__, name="streamproc", openlineageAdapterVersion=openlineage_version
    )


def _job_facets(run: RunDescription) -> dict[str, Any]:
    periodic = run.emission == "every_n_seconds"
    pattern = job_type_job.EmissionPattern(
        eventTrigger="PERIODIC" if periodic else "EVENT_BASED",
        eventContentMode="ACCUMULATIVE",
        windowDuration=max(1, round(run.window_seconds)) if periodic and run.window_seconds else None,
    )
    topics = ", ".join(i.dataset.name for i in run.inputs) or "its source"
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            producer=f.PRODUCER,
            processingType="STREAMING",
            integration="STREAMPROC",
            jobType="JOB",
            emissionPattern=pattern,
        ),
        "documentation": documentation_job.DocumentationJobFacet(
            producer=f.PRODUCER,
            description=f"streamproc pipeline {run.pipeline}: {topics} → Delta table {run.table.logical_name}, "
            f"validated against contract {run.contract_name} v{run.contract_version}.",
        ),
    }
    if run.table.owner:
        facets["ownership"] = ownership_job.OwnershipJobFacet(
            producer=f.PRODUCER, owners=[ownership_job.Owner(name=run.table.owner, type="OWNER")]
        )
    return facets


def _input(source: InputDescription) -> InputDataset:
    ds = source.dataset
    # the source is the broker (kafka://host:port), or the file itself
    facets: dict[str, Any] = {
        "dataSource": f.datasource_facet(ds, source.uri if ds.namespace == "file" else ds.namespace)
    }
    if source.fields:
        facets["schema"] = f.schema_facet(source.fields)
    if source.tags:
        facets["tags"] = f.tags_facet(source.tags)
    return InputDataset(namespace=ds.namespace, name=ds.name, facets=facets)


def table_facets(
    table: TableDescription,
    inputs: Sequence[InputDescription],
    *,
    namespace: str,
    replayed_from: Sequence[DatasetId] = (),
) -> dict[str, Any]:
    """The dataset facets of a Delta table: schema, storage, symlink, data source, tags (PII), documentation,
    ownership and column lineage: from ``inputs``, or, for a quarantine replay, from the ``raw_payload`` of the
    quarantines in ``replayed_from``."""
    ds = table.dataset
    facets: dict[str, Any] = {
        "schema": f.schema_facet(table.schema),
        "storage": f.storage_facet(),
        "symlinks": f.symlinks_facet(table.logical_name, namespace=namespace),
        "dataSource": f.datasource_facet(ds, table.location if "://" in table.location else Path(ds.name).as_uri()),
        "tags": f.tags_facet(table.tags, fields=table.schema.names, actions=table.pii_actions),
    }
    if table.description:
        facets["documentation"] = f.documentation_facet(table.description)
    if table.owner:
        facets["ownership"] = f.ownership_facet(table.owner)
    if table.column_sources and (inputs or replayed_from):
        present = {c: s for c, s in table.column_sources.items() if c in table.schema.names}
        facets["columnLineage"] = (
            f.column_lineage_facet(present, [i.dataset for i in inputs], variants=table.variant_columns)
            if inputs
            else f.replayed_column_lineage_facet(present, replayed_from)
        )
    return facets


def _outputs(run: RunDescription, loads: Sequence[LoadRecord]) -> list[OutputDataset]:
    """Every route's table and quarantine table; with ``loads`` (a RUNNING event), those of the tables the loads
    landed into, each with its newest load's versions and its loads' statistics (a load of a table the run does not
    describe counts as the pipeline's own table's)."""
    if not loads:
        return [output for route in run.outputs for output in _route_outputs(run, route, ())]
    names = {route.table.logical_name for route in run.outputs}
    by_table: dict[str, list[LoadRecord]] = {}
    for load in loads:
        by_table.setdefault(load.table_name if load.table_name in names else run.table.logical_name, []).append(load)
    return [
        output
        for route in run.outputs
        if route.table.logical_name in by_table
        for output in _route_outputs(run, route, by_table[route.table.logical_name])
    ]


def _route_outputs(run: RunDescription, route: RouteDescription, loads: Sequence[LoadRecord]) -> list[OutputDataset]:
    outputs = []
    for role, table in (("table", route.table), ("quarantine", route.quarantine)):
        facets = table_facets(table, run.inputs if role == "table" else (), namespace=run.namespace)
        output_facets: dict[str, Any] = {}
        if loads:
            newest = loads[-1]
            version = newest.delta_version if role == "table" else newest.quarantine_delta_version
            if version is not None:
                facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                    producer=f.PRODUCER, datasetVersion=str(version)
                )
            rows = sum(load.rows_landed if role == "table" else load.rows_quarantined for load in loads)
            output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                producer=f.PRODUCER, rowCount=rows, size=sum(load.bytes for load in loads) if role == "table" else None
            )
        ds = table.dataset
        outputs.append(OutputDataset(namespace=ds.namespace, name=ds.name, facets=facets, outputFacets=output_facets))
    return outputs


