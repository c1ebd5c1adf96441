"""Pydantic models of the OpenLineage events the catalog accepts, and of the facets it interprets.

No PyPI package ships the official OpenLineage JSON schema (openlineage-python carries generated classes, not the
``OpenLineage.json`` file), so events are validated against these models, which encode the *required* parts of the
spec (OpenLineage 2-0-2, ``spec/OpenLineage.json``): ``eventTime`` (RFC 3339 date-time with offset), ``producer`` and
``schemaURL`` (URIs), ``run.runId`` (UUID), ``job.namespace``/``job.name``, ``eventType`` in the closed set, datasets
with ``namespace``/``name``, and every facet an object carrying ``_producer`` and ``_schemaURL``. The standard facets
the catalog reads (``schema``, ``version``, ``tags``, ``symlinks``, ``columnLineage``, ``documentation``,
``ownership``, ``jobType``) and streamproc's ``streamproc_load`` / ``streamproc_loads`` run facets are checked field by
field. Unknown facets
and extra keys are kept verbatim. When ``CATALOG_OPENLINEAGE_SCHEMA`` points at a copy of the official schema, events
are also validated against it (``catalog.validation``).

Three event kinds (spec: RunEvent, DatasetEvent, JobEvent) are told apart by their keys: ``run`` → RunEvent,
``dataset`` → DatasetEvent, otherwise JobEvent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlparse
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "EVENT_TYPES",
    "ColumnLineageFacet",
    "DatasetEvent",
    "DatasetFacets",
    "Facet",
    "InputField",
    "JobEvent",
    "JobFacets",
    "JobRef",
    "LineageDataset",
    "LoadFacet",
    "LoadOffsets",
    "LoadsFacet",
    "RunEvent",
    "RunFacets",
    "RunRef",
    "SchemaFacet",
    "SchemaField",
    "TagEntry",
]

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")


def _uri(value: str) -> str:
    parsed = urlparse(value)
    if not parsed.scheme:
        raise ValueError(f"must be a URI with a scheme, got {value!r}")
    return value


Uri = Annotated[str, AfterValidator(_uri)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Open(BaseModel):
    """Keeps unknown keys (the spec allows additional properties almost everywhere)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Facet(_Open):
    """Any facet (spec ``BaseFacet``): ``_producer`` and ``_schemaURL`` are required URIs; ``_deleted`` optional."""

    producer: Uri = Field(alias="_producer")
    schema_url: Uri = Field(alias="_schemaURL")
    deleted: bool | None = Field(default=None, alias="_deleted")


# --- dataset facets --------------------------------------------------------------------------------------------------


class SchemaField(_Open):
    """One field of the ``schema`` facet; nested ``fields`` for structs. ``tags`` is an extension (not in the spec):
    a list of tag names, or of ``{"key", "value"}`` objects like the ``tags`` facet's entries."""

    name: NonEmpty
    type: str | None = None
    description: str | None = None
    fields: list[SchemaField] = Field(default_factory=list)
    tags: list[str | TagEntry] = Field(default_factory=list)


class SchemaFacet(Facet):
    """Spec ``SchemaDatasetFacet``."""

    fields: list[SchemaField] = Field(default_factory=list)


class VersionFacet(Facet):
    """Spec ``DatasetVersionDatasetFacet``: for a Delta table, the Delta version as a string."""

    dataset_version: str = Field(alias="datasetVersion")


class TagEntry(_Open):
    """One entry of the spec ``TagsDatasetFacet``; ``field`` set means a column-level tag."""

    key: NonEmpty
    value: str
    source: str | None = None
    field: str | None = None


class TagsFacet(Facet):
    tags: list[TagEntry] = Field(default_factory=list)


class SymlinkIdentifier(_Open):
    namespace: NonEmpty
    name: NonEmpty
    type: str


class SymlinksFacet(Facet):
    """Spec ``SymlinksDatasetFacet``: other names of the same dataset (e.g. a Delta table's logical name)."""

    identifiers: list[SymlinkIdentifier] = Field(default_factory=list)


class InputField(_Open):
    namespace: NonEmpty
    name: NonEmpty
    field: NonEmpty
    transformations: list[dict[str, object]] = Field(default_factory=list)


class ColumnLineageField(_Open):
    input_fields: list[InputField] = Field(alias="inputFields")
    transformation_description: str | None = Field(default=None, alias="transformationDescription")
    transformation_type: str | None = Field(default=None, alias="transformationType")


class ColumnLineageFacet(Facet):
    """Spec ``ColumnLineageDatasetFacet``: output field → the input fields it is computed from."""

    fields: dict[str, ColumnLineageField] = Field(default_factory=dict)
    dataset: list[InputField] = Field(default_factory=list)


class DocumentationFacet(Facet):
    description: str


class DatasetFacets(_Open):
    """A dataset's ``facets`` (or ``inputFacets`` / ``outputFacets``): the facets the catalog reads are typed, the
    others only need to be facets."""

    __pydantic_extra__: dict[str, Facet] = Field(init=False)  # type: ignore[assignment]

    schema_: SchemaFacet | None = Field(default=None, alias="schema")
    version: VersionFacet | None = None
    tags: TagsFacet | None = None
    symlinks: SymlinksFacet | None = None
    column_lineage: ColumnLineageFacet | None = Field(default=None, alias="columnLineage")
    documentation: DocumentationFacet | None = None


class LineageDataset(_Open):
    """A dataset of an event (``inputs[]``, ``outputs[]`` or a DatasetEvent's ``dataset``)."""

    namespace: NonEmpty
    name: NonEmpty
    facets: DatasetFacets = Field(default_factory=DatasetFacets)
    input_facets: DatasetFacets | None = Field(default=None, alias="inputFacets")
    output_facets: DatasetFacets | None = Field(default=None, alias="outputFacets")


# --- run and job facets ----------------------------------------------------------------------------------------------


class LoadContract(_Open):
    name: NonEmpty
    version: str | int
    hash: str | None = None


class LoadOffsets(_Open):
    """One Kafka partition's offset range in a load, both ends inclusive."""

    topic: NonEmpty
    partition: Annotated[int, Field(ge=0)]
    first: Annotated[int, Field(ge=0)]
    last: Annotated[int, Field(ge=0)]


class LoadFacet(Facet):
    """streamproc's custom run facet ``streamproc_load``, on RUNNING events: one load into one Delta table."""

    load_id: NonEmpty = Field(alias="loadId")
    contract: LoadContract
    table: NonEmpty
    delta_version: Annotated[int, Field(ge=0)] = Field(alias="deltaVersion")
    rows_landed: Annotated[int, Field(ge=0)] = Field(alias="rowsLanded")
    rows_quarantined: Annotated[int, Field(ge=0)] = Field(default=0, alias="rowsQuarantined")
    offsets: list[LoadOffsets] = Field(default_factory=list)


class LoadsFacet(Facet):
    """streamproc's custom run facet ``streamproc_loads``, on the RUNNING events of ``emit: every_n_seconds``: every
    load since the previous RUNNING event, oldest first (each entry shaped like ``streamproc_load``)."""

    loads: list[LoadFacet] = Field(default_factory=list)


class RunFacets(_Open):
    __pydantic_extra__: dict[str, Facet] = Field(init=False)  # type: ignore[assignment]

    streamproc_load: LoadFacet | None = None
    streamproc_loads: LoadsFacet | None = None


class JobTypeFacet(Facet):
    processing_type: str = Field(alias="processingType")
    integration: str
    job_type: str | None = Field(default=None, alias="jobType")


class JobFacets(_Open):
    __pydantic_extra__: dict[str, Facet] = Field(init=False)  # type: ignore[assignment]

    job_type: JobTypeFacet | None = Field(default=None, alias="jobType")
    documentation: DocumentationFacet | None = None


class RunRef(_Open):
    run_id: UUID = Field(alias="runId")
    facets: RunFacets = Field(default_factory=RunFacets)


class JobRef(_Open):
    namespace: NonEmpty
    name: NonEmpty
    facets: JobFacets = Field(default_factory=JobFacets)


# --- events ----------------------------------------------------------------------------------------------------------


class _BaseEvent(_Open):
    event_time: AwareDatetime = Field(alias="eventTime")
    producer: Uri
    schema_url: Uri = Field(alias="schemaURL")


class RunEvent(_BaseEvent):
    """Spec ``RunEvent``: a run of a job changed state (or reports progress, ``RUNNING``)."""

    event_type: Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"] | None = Field(
        default=None, alias="eventType"
    )
    run: RunRef
    job: JobRef
    inputs: list[LineageDataset] = Field(default_factory=list)
    outputs: list[LineageDataset] = Field(default_factory=list)


class DatasetEvent(_BaseEvent):
    """Spec ``DatasetEvent``: metadata about a dataset outside any run."""

    dataset: LineageDataset


class JobEvent(_BaseEvent):
    """Spec ``JobEvent``: metadata about a job (and its inputs/outputs) outside any run."""

    job: JobRef
    inputs: list[LineageDataset] = Field(default_factory=list)
    outputs: list[LineageDataset] = Field(default_factory=list)


SchemaField.model_rebuild()


def event_time(event: RunEvent | DatasetEvent | JobEvent) -> datetime:
    """The event's time (timezone-aware)."""
    return event.event_time
