"""The OpenLineage run events of one streamproc run: START, RUNNING per load (or per window), COMPLETE or FAIL.

One consumer process is one run of a streaming job (``jobType``: ``processingType=STREAMING``, integration
``STREAMPROC``, job type ``JOB``). Inputs are the source topics (or the file); outputs are the Delta table and its
quarantine table. Every event describes its datasets completely (schema, tags, column lineage, symlinks, ...), so
each one can be read alone; RUNNING events add the Delta ``version`` each table reached and the ``outputStatistics``
of the loads they report, and the ``streamproc_load`` run facet (see :mod:`streamproc.lineage.facets`).

Events are built from a :class:`RunDescription`, which :func:`describe_run` makes from a contract (the live run) and
:mod:`streamproc.lineage.backfill` makes from the lake.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
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

from contracts import PII_CATEGORIES, Contract, contract_arrow_schema
from contracts.pii import field_actions
from streamproc import __version__
from streamproc.lineage import facets as f
from streamproc.lineage.columns import LINEAGE_FIELDS, with_lineage_schema
from streamproc.lineage.loads import LoadRecord
from streamproc.lineage.naming import DatasetId, dataset_of_location, dataset_of_source
from streamproc.sinks.quarantine import QUARANTINE_SCHEMA

__all__ = [
    "Emission",
    "InputDescription",
    "RunDescription",
    "TableDescription",
    "complete_event",
    "describe_run",
    "fail_event",
    "load_event",
    "quarantine_description",
    "start_event",
    "with_table_schema",
]

Emission = Literal["per_load", "every_n_seconds"]

_QUARANTINE_RAW = ("raw_payload", "raw_text", "removed_values")


@dataclass(frozen=True, slots=True)
class InputDescription:
    """One source topic (or file) as an input dataset.

    Attributes:
        uri: its ``_source`` URI (``kafka://host:port/topic``, ``file:///path``).
        fields: the event's JSON fields as ``(name, type, description)`` (JSON Schema types), empty if unknown.
        tags: JSON field → tags.
    """

    uri: str
    fields: tuple[tuple[str, str, str | None], ...] = ()
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def dataset(self) -> DatasetId:
        return dataset_of_source(self.uri)


@dataclass(frozen=True, slots=True)
class TableDescription:
    """A Delta table as an output dataset.

    Attributes:
        location: the table's URI or path; logical_name: its short name (the symlink).
        schema: its Arrow schema (field metadata ``description`` becomes the field's description).
        tags: column → tags; column_sources: column → the input JSON field it is read from.
        pii_actions: tagged column → the PII action applied before it lands (``keep``/``hash``/``mask``/``drop``).
        variant_columns: columns holding a field's values of another type (``evolve``'s ``<field>__v_<type>``).
    """

    location: str
    logical_name: str
    schema: pa.Schema
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    column_sources: Mapping[str, str] = field(default_factory=dict)
    variant_columns: tuple[str, ...] = ()
    description: str | None = None
    owner: str | None = None
    pii_actions: Mapping[str, str] = field(default_factory=dict)

    @property
    def dataset(self) -> DatasetId:
        return dataset_of_location(self.location)


@dataclass(frozen=True, slots=True)
class RunDescription:
    """What every event of one run says about its job, run and datasets."""

    run_id: str
    namespace: str
    pipeline: str
    contract_name: str
    contract_version: int
    inputs: tuple[InputDescription, ...]
    table: TableDescription
    quarantine: TableDescription
    emission: Emission = "per_load"
    window_seconds: float | None = None


def describe_run(
    *,
    run_id: str,
    namespace: str,
    pipeline: str,
    contract: type[Contract],
    source_uris: Mapping[str, str],
    table_uri: str,
    quarantine_uri: str,
    emission: Emission = "per_load",
    window_seconds: float | None = None,
    pii_actions: Mapping[str, str] | None = None,
) -> RunDescription:
    """Describe a live run from its contract: the table's schema is the contract's plus the lineage columns, the
    topic's fields are the contract's JSON fields (by alias), and each field's tags are the contract's, with the PII
    action per tagged field (``pii_actions``: the pipeline config's tag → action, under the contract's own)."""
    info = contract.__contract__
    aliases = {name: (fi.alias or name) for name, fi in contract.model_fields.items()}
    json_tags = {aliases.get(name, name): tags for name, tags in info.tags.items()}
    topic_fields = tuple(_json_fields(contract.model_json_schema(mode="validation", by_alias=True)))
    inputs = tuple(
        InputDescription(uri=uri, fields=topic_fields, tags=json_tags) for _, uri in sorted(source_uris.items())
    )
    table = TableDescription(
        location=table_uri,
        logical_name=_last_segment(table_uri),
        schema=with_lineage_schema(contract_arrow_schema(contract)),
        tags=dict(info.tags),
        column_sources=aliases,
        description=info.description,
        owner=info.owner,
        pii_actions=field_actions(contract, pii_actions),
    )
    return RunDescription(
        run_id=run_id,
        namespace=namespace,
        pipeline=pipeline,
        contract_name=info.name,
        contract_version=info.version,
        inputs=inputs,
        table=table,
        quarantine=quarantine_description(quarantine_uri, tags=info.tags, contract_name=info.name, owner=info.owner),
        emission=emission,
        window_seconds=window_seconds,
    )


def with_table_schema(run: RunDescription, schema: pa.Schema) -> RunDescription:
    """``run`` with its table's actual schema (read from the Delta log): a table ``evolve`` grew beyond its
    contract has more columns, each read from the JSON key it is named after, or, for a variant column, from the
    field its ``streamproc.variant_of`` metadata names (see ``contracts.evolve``)."""
    lineage = {f.name for f in LINEAGE_FIELDS}
    sources = {c: s for c, s in run.table.column_sources.items() if c in schema.names}
    variants = []
    for column in schema:
        variant_of = (column.metadata or {}).get(b"streamproc.variant_of")
        if variant_of is not None:
            variants.append(column.name)
        if column.name not in sources and column.name not in lineage:
            sources[column.name] = variant_of.decode() if variant_of is not None else column.name
    table = replace(run.table, schema=schema, column_sources=sources, variant_columns=tuple(variants))
    return replace(run, table=table)


def quarantine_description(
    location: str, *, tags: Mapping[str, Sequence[str]], contract_name: str, owner: str | None
) -> TableDescription:
    """The quarantine table: its raw columns may hold any PII the contract's fields carry, so they get those tags."""
    pii = tuple(sorted({t for names in tags.values() for t in names if t in PII_CATEGORIES}))
    return TableDescription(
        location=location,
        logical_name=_last_segment(location),
        schema=QUARANTINE_SCHEMA,
        tags={column: pii for column in _QUARANTINE_RAW} if pii else {},
        description=f"Events of contract {contract_name} that did not land as sent: the raw payload, every violation "
        "and the source coordinates.",
        owner=owner,
    )


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
    table_name = run.table.dataset.name
    run_facets: dict[str, Any] = {"streamproc_load": f.load_facet(loads[-1], table=table_name)}
    if len(loads) > 1:
        run_facets["streamproc_loads"] = f.StreamprocLoadsRunFacet(
            producer=f.PRODUCER, loads=[f.load_facet(load, table=table_name) for load in loads]
        )
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
    engine = processing_engine_run.ProcessingEngineRunFacet(
        producer=f.PRODUCER, version=__version__, name="streamproc", openlineageAdapterVersion=openlineage_version
    )
    return RunEvent(
        eventType=state,
        eventTime=(at or dt.datetime.now(dt.UTC)).isoformat(),
        producer=f.PRODUCER,
        run=Run(runId=run.run_id, facets={"processing_engine": engine, **(run_facets or {})}),
        job=Job(namespace=run.namespace, name=run.pipeline, facets=_job_facets(run)),
        inputs=[_input(i) for i in run.inputs],
        outputs=outputs,
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


def _table_facets(table: TableDescription, inputs: Sequence[InputDescription], *, namespace: str) -> dict[str, Any]:
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
    if table.column_sources and inputs:
        present = {c: s for c, s in table.column_sources.items() if c in table.schema.names}
        facets["columnLineage"] = f.column_lineage_facet(
            present, [i.dataset for i in inputs], variants=table.variant_columns
        )
    return facets


def _outputs(run: RunDescription, loads: Sequence[LoadRecord]) -> list[OutputDataset]:
    outputs = []
    for role, table in (("table", run.table), ("quarantine", run.quarantine)):
        facets = _table_facets(table, run.inputs if role == "table" else (), namespace=run.namespace)
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


def _json_fields(schema: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """``(name, type, description)`` of a JSON Schema's top-level properties; types like ``integer``,
    ``number|null``, ``string(date-time)``, ``object``, ``array``."""
    return [
        (name, _json_type(prop), prop.get("description")) for name, prop in (schema.get("properties") or {}).items()
    ]


def _json_type(prop: Mapping[str, Any]) -> str:
    if "anyOf" in prop:
        return "|".join(dict.fromkeys(_json_type(p) for p in prop["anyOf"]))
    if "$ref" in prop or "allOf" in prop:
        return "object"
    kind = prop.get("type", "any")
    if isinstance(kind, list):
        return "|".join(kind)
    return f"{kind}({prop['format']})" if "format" in prop else str(kind)


def _last_segment(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]
