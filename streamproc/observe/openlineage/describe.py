"""What every OpenLineage event of a run says about its datasets: the run's inputs (topics, or the file) and its
outputs (each route's table and quarantine table), described from the contracts (the live run) or from the lake
(:mod:`streamproc.observe.openlineage.backfill`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pyarrow as pa

from contracts import PII_CATEGORIES, Contract, contract_arrow_schema
from contracts.pii import PiiPolicy, field_actions
from streamproc.lineage.columns import LINEAGE_FIELDS, with_lineage_schema
from streamproc.observe.openlineage.naming import DatasetId, dataset_of_location, dataset_of_source
from streamproc.sinks.quarantine import QUARANTINE_SCHEMA

__all__ = [
    "Emission",
    "InputDescription",
    "RouteDescription",
    "RunDescription",
    "TableDescription",
    "describe_run",
    "quarantine_description",
    "table_description",
    "table_with_schema",
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
class RouteDescription:
    """A routed contract's table and quarantine table (routing: one topic, several event types)."""

    table: TableDescription
    quarantine: TableDescription


@dataclass(frozen=True, slots=True)
class RunDescription:
    """What every event of one run says about its job, run and datasets.

    Attributes:
        table, quarantine: the pipeline's own table and quarantine table (its ``contract``).
        routes: with routing, every other route's tables, in config order.
    """

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
    routes: tuple[RouteDescription, ...] = ()

    @property
    def outputs(self) -> tuple[RouteDescription, ...]:
        """Every route's tables, the pipeline's own first."""
        return (RouteDescription(self.table, self.quarantine), *self.routes)


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
    routes: Sequence[tuple[type[Contract], str, str]] = (),
    pii_actions: Mapping[str, str] | None = None,
) -> RunDescription:
    """Describe a live run from its contracts: a table's schema is its contract's plus the lineage columns, the
    topic's fields are the contracts' JSON fields (by alias), and each field's tags are its contract's, with the PII
    action per tagged field.

    Args:
        routes: with routing, each other route's contract, table location and quarantine location.
        pii_actions: the pipeline config's tag → PII action (under each contract's own).
    """
    info = contract.__contract__
    fields: dict[str, tuple[str, str, str | None]] = {}
    json_tags: dict[str, tuple[str, ...]] = {}
    for each in (contract, *(routed for routed, _, _ in routes)):
        aliases = {name: (fi.alias or name) for name, fi in each.model_fields.items()}
        for name, tags in each.__contract__.tags.items():
            json_tags[aliases.get(name, name)] = tuple(dict.fromkeys((*json_tags.get(aliases.get(name, name), ()), *tags)))
        for field_ in _json_fields(each.model_json_schema(mode="validation", by_alias=True)):
            fields.setdefault(field_[0], field_)
    inputs = tuple(
        InputDescription(uri=uri, fields=tuple(fields.values()), tags=json_tags) for _, uri in sorted(source_uris.items())
    )
    return RunDescription(
        run_id=run_id,
        namespace=namespace,
        pipeline=pipeline,
        contract_name=info.name,
        contract_version=info.version,
        inputs=inputs,
        table=table_description(contract, table_uri, pii_actions),
        quarantine=quarantine_description(quarantine_uri, tags=info.tags, contract_name=info.name, owner=info.owner),
        emission=emission,
        window_seconds=window_seconds,
        routes=tuple(
            RouteDescription(
                table_description(routed, table, pii_actions),
                quarantine_description(
                    quarantine,
                    tags=routed.__contract__.tags,
                    contract_name=routed.__contract__.name,
                    owner=routed.__contract__.owner,
                ),
            )
            for routed, table, quarantine in routes
        ),
    )


def table_description(
    contract: type[Contract], location: str, pii_actions: Mapping[str, str] | None
) -> TableDescription:
    """A table as its contract describes it: the contract's Arrow schema as the PII policy leaves it (dropped fields
    absent, hashed ones strings: what the pipeline lands, ``validation/stage.py``) plus the lineage columns, tags
    and PII actions, the JSON key each column is read from, documentation and owner."""
    info = contract.__contract__
    actions = field_actions(contract, pii_actions)
    landed = PiiPolicy({p: a for p, a in actions.items() if a != "keep"}).redact_schema(contract_arrow_schema(contract))
    return TableDescription(
        location=location,
        logical_name=_last_segment(location),
        schema=with_lineage_schema(landed),
        tags=dict(info.tags),
        column_sources={name: (fi.alias or name) for name, fi in contract.model_fields.items()},
        description=info.description,
        owner=info.owner,
        pii_actions=actions,
    )


def with_table_schema(run: RunDescription, schema: pa.Schema, *, table_name: str | None = None) -> RunDescription:
    """``run`` with a table's actual schema (read from the Delta log; default the pipeline's own table, else the
    route table named ``table_name``): a table ``evolve`` grew beyond its contract has more columns, each read from
    the JSON key it is named after, or, for a variant column, from the field its ``streamproc.variant_of`` metadata
    names (see ``contracts.evolve``)."""
    if table_name is not None and table_name != run.table.logical_name:
        routes = tuple(
            replace(r, table=table_with_schema(r.table, schema)) if r.table.logical_name == table_name else r
            for r in run.routes
        )
        return replace(run, routes=routes)
    return replace(run, table=table_with_schema(run.table, schema))


def table_with_schema(table: TableDescription, schema: pa.Schema) -> TableDescription:
    """``table`` (described from its contract) with the schema its Delta log has: the columns that landed, so
    without those the PII policy drops (``drop``) and with those ``evolve`` added (each read from the JSON key it is
    named after, or, for a variant column, from the field its ``streamproc.variant_of`` metadata names). Tags, PII
    actions, documentation and owner stay the contract's. Every event describing a table that exists describes it
    this way: the pipeline's (:func:`with_table_schema`) and a quarantine replay's."""
    lineage = {f.name for f in LINEAGE_FIELDS}
    sources = {c: s for c, s in table.column_sources.items() if c in schema.names}
    variants = []
    for column in schema:
        variant_of = (column.metadata or {}).get(b"streamproc.variant_of")
        if variant_of is not None:
            variants.append(column.name)
        if column.name not in sources and column.name not in lineage:
            sources[column.name] = variant_of.decode() if variant_of is not None else column.name
    return replace(table, schema=schema, column_sources=sources, variant_columns=tuple(variants))


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
