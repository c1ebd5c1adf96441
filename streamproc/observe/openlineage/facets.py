"""The OpenLineage facets streamproc puts on its events: standard facets from openlineage-python, and two custom run
facets of its own, ``streamproc_load`` and ``streamproc_loads``.

Custom facets follow the spec's rules for them (a ``_producer``, a ``_schemaURL`` pointing at a JSON schema, a name
prefixed by the producer); their schemas ship in ``streamproc/observe/openlineage/schemas/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attr
import pyarrow as pa
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    datasource_dataset,
    documentation_dataset,
    ownership_dataset,
    schema_dataset,
    storage_dataset,
    symlinks_dataset,
    tags_dataset,
)

from contracts import PII_CATEGORIES
from streamproc import __version__
from streamproc.lineage.loads import LoadRecord
from streamproc.observe.openlineage.naming import DatasetId

__all__ = [
    "PRODUCER",
    "SCHEMAS_DIR",
    "StreamprocLoadRunFacet",
    "StreamprocLoadsRunFacet",
    "column_lineage_facet",
    "replayed_column_lineage_facet",
    "datasource_facet",
    "documentation_facet",
    "load_facet",
    "ownership_facet",
    "schema_facet",
    "storage_facet",
    "symlinks_facet",
    "tags_facet",
]

PRODUCER = f"https://streamproc.dev/streamproc/{__version__}"
"""The ``producer`` / ``_producer`` URI of every event and facet streamproc emits."""

_SCHEMA_BASE = "https://streamproc.dev/spec/facets/1-0-0"

SCHEMAS_DIR = Path(__file__).parent / "schemas"
"""The JSON schemas of the custom facets (``<Facet>.json``, ``$id`` = the facet's ``_schemaURL`` without fragment)."""


@attr.define
class StreamprocLoadRunFacet(RunFacet):
    """Run facet ``streamproc_load``: one load (a micro-batch committed to a Delta table), on RUNNING events.

    Field names and shapes are the catalog's contract (``catalog/README.md``); ``offsets`` are inclusive ranges.
    """

    loadId: str
    contract: dict[str, str]
    table: str
    deltaVersion: int
    rowsLanded: int
    rowsQuarantined: int
    offsets: list[dict[str, Any]]
    quarantineDeltaVersion: int | None = None
    bytes: int | None = None
    closeReason: str | None = None
    committedAt: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{_SCHEMA_BASE}/StreamprocLoadRunFacet.json#/$defs/StreamprocLoadRunFacet"


@attr.define
class StreamprocLoadsRunFacet(RunFacet):
    """Run facet ``streamproc_loads``: every load since the previous RUNNING event (``emit: every_n_seconds``)."""

    loads: list[StreamprocLoadRunFacet]

    @staticmethod
    def _get_schema() -> str:
        return f"{_SCHEMA_BASE}/StreamprocLoadsRunFacet.json#/$defs/StreamprocLoadsRunFacet"


def load_facet(load: LoadRecord, *, table: str) -> StreamprocLoadRunFacet:
    """The ``streamproc_load`` facet of one load; ``table`` is the table's OpenLineage dataset name."""
    return StreamprocLoadRunFacet(
        producer=PRODUCER,
        loadId=load.load_id,
        contract={"name": load.contract_name, "version": str(load.contract_version), "hash": load.contract_hash},
        table=table,
        deltaVersion=load.delta_version if load.delta_version is not None else 0,
        quarantineDeltaVersion=load.quarantine_delta_version,
        rowsLanded=load.rows_landed,
        rowsQuarantined=load.rows_quarantined,
        bytes=load.bytes,
        closeReason=load.close_reason,
        committedAt=load.committed_at.isoformat(),
        offsets=[{"topic": r.topic, "partition": r.partition, "first": r.first, "last": r.last} for r in load.offsets],
    )


def schema_facet(schema: pa.Schema | Sequence[tuple[str, str, str | None]]) -> schema_dataset.SchemaDatasetFacet:
    """Spec ``schema`` facet (1-2-0) of an Arrow schema (types as Arrow prints them; structs nested), or of
    ``(name, type, description)`` triples. Field descriptions come from the Arrow field metadata ``description``."""
    if isinstance(schema, pa.Schema):
        fields = [_schema_field(f, i) for i, f in enumerate(schema, start=1)]
    else:
        fields = [
            schema_dataset.SchemaDatasetFacetFields(name=n, type=t, description=d, ordinal_position=i)
            for i, (n, t, d) in enumerate(schema, start=1)
        ]
    return schema_dataset.SchemaDatasetFacet(producer=PRODUCER, fields=fields)


def _schema_field(field: pa.Field, position: int | None) -> schema_dataset.SchemaDatasetFacetFields:
    description = (field.metadata or {}).get(b"description")
    children = list(field.type) if pa.types.is_struct(field.type) else []
    return schema_dataset.SchemaDatasetFacetFields(
        name=field.name,
        type="struct" if children else str(field.type),
        description=description.decode() if description else None,
        ordinal_position=position,
        fields=[_schema_field(child, None) for child in children],
    )


def tags_facet(
    tags: Mapping[str, Iterable[str]],
    *,
    fields: Iterable[str] | None = None,
    actions: Mapping[str, str] | None = None,
) -> tags_dataset.TagsDatasetFacet:
    """Spec ``tags`` facet (1-0-0) with one column-level entry per field tag, and a dataset-level ``pii`` tag when a
    field carries a PII category.

    A PII category (``contracts.PII_CATEGORIES``) becomes ``{"key": "pii", "value": <category>, "field": f}``
    (the catalog names it ``pii:<category>``); any other tag ``{"key": <tag>, "value": "true", "field": f}``.
    Source: ``CONTRACT``. ``fields`` limits the entries to the dataset's own fields. ``actions`` (field → PII action,
    :func:`contracts.pii.field_actions`) adds ``{"key": "pii_action", "value": <action>, "field": f}`` per tagged
    field; a ``drop`` field is never in the table, yet keeps its entries so that readers see it was dropped.
    """
    wanted = None if fields is None else set(fields)
    actions = actions or {}
    entries: list[tags_dataset.TagsDatasetFacetFields] = []
    pii = False
    for field_name, names in tags.items():
        if wanted is not None and field_name not in wanted and actions.get(field_name) != "drop":
            continue
        if field_name in actions:
            entries.append(
                tags_dataset.TagsDatasetFacetFields(
                    key="pii_action", value=actions[field_name], source="CONTRACT", field=field_name
                )
            )
        for tag in names:
            is_pii = tag in PII_CATEGORIES
            pii = pii or is_pii
            key, value = ("pii", tag) if is_pii else (tag, "true")
            entries.append(
                tags_dataset.TagsDatasetFacetFields(key=key, value=value, source="CONTRACT", field=field_name)
            )
    if pii:
        entries.insert(0, tags_dataset.TagsDatasetFacetFields(key="pii", value="true", source="CONTRACT"))
    return tags_dataset.TagsDatasetFacet(producer=PRODUCER, tags=entries)


def column_lineage_facet(
    sources: Mapping[str, str], inputs: Sequence[DatasetId], *, variants: Iterable[str] = ()
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Spec ``columnLineage`` facet (1-2-0): each column ← its JSON field in every input, unchanged (``DIRECT`` /
    ``IDENTITY``), except variant columns (``evolve``'s ``<field>__v_<type>``: the field's values of another type,
    ``DIRECT`` / ``TRANSFORMATION``).

    Args:
        sources: column → the input field it is read from.
        inputs: the input datasets (every topic of the pipeline).
        variants: the columns that are variant columns.
    """
    variant_columns = set(variants)

    def transformation(column: str) -> column_lineage_dataset.Transformation:
        if column in variant_columns:
            return column_lineage_dataset.Transformation(
                type="DIRECT", subtype="TRANSFORMATION", description="values whose type the field's column cannot hold"
            )
        return column_lineage_dataset.Transformation(type="DIRECT", subtype="IDENTITY")

    return _column_lineage({c: (s, transformation(c)) for c, s in sources.items()}, inputs)


def replayed_column_lineage_facet(
    sources: Mapping[str, str], quarantines: Sequence[DatasetId], *, payload_field: str = "raw_payload"
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Spec ``columnLineage`` facet (1-2-0) of a quarantine replay's table: each column ← the quarantine's raw
    payload (``payload_field``), its JSON field read out of it (``DIRECT`` / ``TRANSFORMATION``).

    Args:
        sources: column → the JSON field of the event it is read from.
        quarantines: the quarantine datasets replayed into the table.
    """
    return _column_lineage(
        {
            column: (
                payload_field,
                column_lineage_dataset.Transformation(
                    type="DIRECT", subtype="TRANSFORMATION", description=f"the event's JSON field {source!r}"
                ),
            )
            for column, source in sources.items()
        },
        quarantines,
    )


def _column_lineage(
    sources: Mapping[str, tuple[str, column_lineage_dataset.Transformation]], inputs: Sequence[DatasetId]
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """column → (input field, transformation), the same field of every input."""
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        producer=PRODUCER,
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=ds.namespace, name=ds.name, field=source, transformations=[transformation]
                    )
                    for ds in inputs
                ],
            )
            for column, (source, transformation) in sources.items()
        },
    )


def symlinks_facet(logical_name: str, *, namespace: str, kind: str = "TABLE") -> symlinks_dataset.SymlinksDatasetFacet:
    """Spec ``symlinks`` facet: the table's logical name (its folder name, e.g. ``flights``) in ``namespace`` (the
    job's: the lake has no metastore of its own)."""
    return symlinks_dataset.SymlinksDatasetFacet(
        producer=PRODUCER,
        identifiers=[symlinks_dataset.Identifier(namespace=namespace, name=logical_name, type=kind)],
    )


def datasource_facet(dataset: DatasetId, uri: str) -> datasource_dataset.DatasourceDatasetFacet:
    """Spec ``dataSource`` facet: the namespace as the source's name, and the location's URI."""
    return datasource_dataset.DatasourceDatasetFacet(producer=PRODUCER, name=dataset.namespace, uri=uri)


def documentation_facet(description: str) -> documentation_dataset.DocumentationDatasetFacet:
    """Spec ``documentation`` facet (the contract's description)."""
    return documentation_dataset.DocumentationDatasetFacet(producer=PRODUCER, description=description)


def ownership_facet(owner: str) -> ownership_dataset.OwnershipDatasetFacet:
    """Spec ``ownership`` facet: the contract's owner as the dataset's ``OWNER``."""
    return ownership_dataset.OwnershipDatasetFacet(
        producer=PRODUCER, owners=[ownership_dataset.Owner(name=owner, type="OWNER")]
    )


def storage_facet() -> storage_dataset.StorageDatasetFacet:
    """Spec ``storage`` facet of a Delta table: layer ``delta``, files ``parquet``."""
    return storage_dataset.StorageDatasetFacet(producer=PRODUCER, storageLayer="delta", fileFormat="parquet")
