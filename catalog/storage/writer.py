"""Upserts of the catalog's rows for one event, inside one session: namespaces, datasets and their versions, schema
versions, tags, column lineage, jobs and runs (``ingest`` decides what an event updates; ``loads`` records loads).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog.models import ColumnLineageFacet, DatasetFacets, JobEvent, LineageDataset, RunEvent, SchemaField
from catalog.storage import tables as t
from catalog.storage.schema import flatten_fields, schema_hash
from catalog.tags import PII_ACTION_KEY, tag_description, tag_name

__all__ = ["TERMINAL_STATES", "Writer", "utc"]

TERMINAL_STATES = ("COMPLETE", "FAIL", "ABORT")


def utc(value: datetime) -> datetime:
    """Make a datetime timezone-aware in UTC (SQLite returns naive datetimes)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Writer:
    """Upserts for one event inside one session; ``now`` is the receive time (namespaces, datasets, jobs),
    ``when`` the event time (dataset and schema versions, loads: when the data changed)."""

    def __init__(self, session: Session, now: datetime, when: datetime) -> None:
        self.s = session
        self.now = now
        self.when = when

    def namespace(self, name: str) -> t.Namespace:
        row = self.s.scalar(select(t.Namespace).where(t.Namespace.name == name))
        if row is None:
            row = t.Namespace(name=name, created_at=self.now, updated_at=self.now)
            self.s.add(row)
            self.s.flush()
        return row

    def dataset(self, namespace: str, name: str) -> t.Dataset:
        ns = self.namespace(namespace)
        row = self.s.scalar(select(t.Dataset).where(t.Dataset.namespace_id == ns.id, t.Dataset.name == name))
        if row is None:
            row = t.Dataset(
                uuid=str(uuid.uuid4()),
                namespace_id=ns.id,
                name=name,
                created_at=self.now,
                updated_at=self.now,
                facets={},
            )
            self.s.add(row)
            self.s.flush()
        return row

    def tag(self, key: str, value: str) -> t.Tag:
        name = tag_name(key, value)
        row = self.s.scalar(select(t.Tag).where(t.Tag.name == name))
        if row is None:
            row = t.Tag(name=name, key=key.strip(), value=value.strip(), description=tag_description(key, value))
            self.s.add(row)
            self.s.flush()
        return row

    def latest_version(self, dataset: t.Dataset) -> t.DatasetVersion | None:
        return self.s.scalar(
            select(t.DatasetVersion)
            .where(t.DatasetVersion.dataset_id == dataset.id)
            .order_by(t.DatasetVersion.id.desc())
        )

    def dataset_version(
        self, dataset: t.Dataset, version: str | None, *, schema_id: int | None, run: t.Run | None, facets: dict
    ) -> t.DatasetVersion:
        row = None
        if version is not None:
            row = self.s.scalar(
                select(t.DatasetVersion).where(
                    t.DatasetVersion.dataset_id == dataset.id, t.DatasetVersion.version == version
                )
            )
        if row is None:
            if schema_id is None:
                latest = self.latest_version(dataset)
                schema_id = latest.schema_version_id if latest is not None else None
            row = t.DatasetVersion(
                uuid=str(uuid.uuid4()),
                dataset_id=dataset.id,
                version=version,
                schema_version_id=schema_id,
                run_id=run.id if run is not None else None,
                created_at=self.when,
                facets=facets,
            )
            self.s.add(row)
            self.s.flush()
        else:
            if schema_id is not None:
                row.schema_version_id = schema_id
            if run is not None and row.run_id is None:
                row.run_id = run.id
            row.facets = {**row.facets, **facets}
        return row

    def schema_version(self, dataset: t.Dataset, fields: list[SchemaField]) -> t.SchemaVersion:
        digest = schema_hash(fields)
        row = self.s.scalar(
            select(t.SchemaVersion).where(t.SchemaVersion.dataset_id == dataset.id, t.SchemaVersion.hash == digest)
        )
        if row is None:
            row = t.SchemaVersion(uuid=str(uuid.uuid4()), dataset_id=dataset.id, hash=digest, created_at=self.when)
            self.s.add(row)
            self.s.flush()
            for position, field in enumerate(flatten_fields(fields)):
                self.s.add(
                    t.Field(
                        schema_version_id=row.id,
                        position=position,
                        name=field.name,
                        type=field.type,
                        description=field.description,
                    )
                )
        return row

    def apply_dataset(
        self,
        ds: LineageDataset,
        raw: dict[str, Any],
        *,
        run: t.Run | None,
        extra: str | None,
        job_inputs: set[int] | None = None,
    ) -> t.Dataset:
        """Apply a dataset's facets (``extra`` names ``inputFacets``/``outputFacets`` to merge in).

        ``job_inputs``: the ids of the datasets the event's job reads, when the dataset is that job's output. Its
        ``columnLineage`` then replaces only the column lineage from those (and from the inputs the facet names):
        a table two jobs write (the pipeline from its topic, the quarantine replay from the quarantine) keeps each
        job's. ``None`` (a DatasetEvent): the facet replaces all of the dataset's column lineage.
        """
        dataset = self.dataset(ds.namespace, ds.name)
        dataset.updated_at = self.now
        facets: DatasetFacets = ds.facets
        raw_facets: dict[str, Any] = dict(raw.get("facets") or {})
        extra_raw: dict[str, Any] = dict(raw.get(f"{extra}Facets") or {}) if extra else {}
        dataset.facets = {**dataset.facets, **{k: v for k, v in raw_facets.items() if not (v or {}).get("_deleted")}}
        for key, value in raw_facets.items():
            if (value or {}).get("_deleted"):
                dataset.facets.pop(key, None)

        schema = facets.schema_ if facets.schema_ is not None and not facets.schema_.deleted else None
        schema_row = self.schema_version(dataset, schema.fields) if schema is not None else None
        version_facet = facets.version if facets.version is not None and not facets.version.deleted else None
        version_facets = {**{k: v for k, v in raw_facets.items() if k == "version"}, **extra_raw}
        if version_facet is not None:
            self.dataset_version(
                dataset,
                version_facet.dataset_version,
                schema_id=schema_row.id if schema_row else None,
                run=run,
                facets=version_facets,
            )
        elif schema_row is not None:
            latest = self.latest_version(dataset)
            # an older event (re-sent from an outbox, or late) must not bring back a superseded schema
            if latest is None or (latest.schema_version_id != schema_row.id and self.when >= utc(latest.created_at)):
                self.dataset_version(dataset, None, schema_id=schema_row.id, run=run, facets=version_facets)

        if facets.documentation is not None and not facets.documentation.deleted:
            dataset.description = facets.documentation.description
        if facets.symlinks is not None:
            self.s.execute(delete(t.DatasetSymlink).where(t.DatasetSymlink.dataset_id == dataset.id))
            seen = set()
            for ident in facets.symlinks.identifiers:
                if (ident.namespace, ident.name) not in seen:
                    seen.add((ident.namespace, ident.name))
                    self.s.add(
                        t.DatasetSymlink(
                            dataset_id=dataset.id, namespace=ident.namespace, name=ident.name, type=ident.type
                        )
                    )
        self._apply_tags(dataset, facets, schema.fields if schema is not None else [])
        if facets.column_lineage is not None and not facets.column_lineage.deleted:
            self._apply_column_lineage(dataset, facets.column_lineage, job_inputs)
        return dataset

    def _apply_tags(self, dataset: t.Dataset, facets: DatasetFacets, fields: list[SchemaField]) -> None:
        field_tags: dict[tuple[str, int], str | None] = {}
        for field in flatten_fields(fields):
            for entry in field.tags:
                key, value, source = (
                    (entry, "true", "schema") if isinstance(entry, str) else (entry.key, entry.value, entry.source)
                )
                field_tags[(field.name, self.tag(key, value).id)] = source
        tags_facet = facets.tags if facets.tags is not None and not facets.tags.deleted else None
        if tags_facet is None and not field_tags:
            return
        if tags_facet is not None:
            dataset_tags: dict[int, str | None] = {}
            for entry in tags_facet.tags:
                if entry.key == PII_ACTION_KEY:
                    continue  # a column's PII policy, read from the facet (catalog.query.datasets.pii_actions)
                tag = self.tag(entry.key, entry.value)
                if entry.field:
                    field_tags[(entry.field, tag.id)] = entry.source
                else:
                    dataset_tags[tag.id] = entry.source
            self.s.execute(delete(t.DatasetTag).where(t.DatasetTag.dataset_id == dataset.id))
            for tag_id, source in dataset_tags.items():
                self.s.add(t.DatasetTag(dataset_id=dataset.id, tag_id=tag_id, source=source))
        self.s.execute(delete(t.FieldTag).where(t.FieldTag.dataset_id == dataset.id))
        for (field_name, tag_id), source in field_tags.items():
            self.s.add(t.FieldTag(dataset_id=dataset.id, field=field_name, tag_id=tag_id, source=source))

    def _apply_column_lineage(
        self, dataset: t.Dataset, facet: ColumnLineageFacet, job_inputs: set[int] | None
    ) -> None:
        rows: dict[tuple[str | None, int, str], t.ColumnLineage] = {}
        pairs = [
            (name, f.input_fields, f.transformation_type, f.transformation_description)
            for name, f in facet.fields.items()
        ]
        pairs.append((None, facet.dataset, None, None))
        sources = {
            (item.namespace, item.name): self.dataset(item.namespace, item.name) for _, inputs, _, _ in pairs
            for item in inputs
        }
        stale = delete(t.ColumnLineage).where(t.ColumnLineage.dataset_id == dataset.id)
        if job_inputs is not None:
            replaced = job_inputs | {source.id for source in sources.values()}
            stale = stale.where(t.ColumnLineage.input_dataset_id.in_(replaced))
        self.s.execute(stale)
        for out_field, inputs, ttype, tdesc in pairs:
            for item in inputs:
                source = sources[(item.namespace, item.name)]
                transformation = item.transformations[0] if item.transformations else {}
                rows[(out_field, source.id, item.field)] = t.ColumnLineage(
                    dataset_id=dataset.id,
                    field=out_field,
                    input_dataset_id=source.id,
                    input_field=item.field,
                    transformation_type=str(transformation.get("type") or ttype or "") or None,
                    transformation_description=str(transformation.get("description") or tdesc or "") or None,
                )
        self.s.add_all(rows.values())

    def job(self, event: RunEvent | JobEvent, raw: dict[str, Any]) -> t.Job:
        ns = self.namespace(event.job.namespace)
        row = self.s.scalar(select(t.Job).where(t.Job.namespace_id == ns.id, t.Job.name == event.job.name))
        job_type = event.job.facets.job_type
        kind = "STREAM" if job_type is not None and job_type.processing_type.upper() == "STREAMING" else "BATCH"
        if row is None:
            row = t.Job(
                uuid=str(uuid.uuid4()),
                namespace_id=ns.id,
                name=event.job.name,
                type=kind,
                created_at=self.now,
                updated_at=self.now,
                facets={},
            )
            self.s.add(row)
            self.s.flush()
        row.updated_at = self.now
        if job_type is not None:
            row.type = kind
        if event.job.facets.documentation is not None:
            row.description = event.job.facets.documentation.description
        row.facets = {**row.facets, **(raw.get("job", {}).get("facets") or {})}
        return row

    def job_inputs(self, job: t.Job) -> set[int]:
        """The ids of the datasets ``job`` reads (every input any of its events named)."""
        return set(
            self.s.scalars(
                select(t.JobDataset.dataset_id).where(t.JobDataset.job_id == job.id, t.JobDataset.direction == "in")
            )
        )

    def link(
        self, model: type[t.JobDataset] | type[t.RunDataset], owner: str, owner_id: int, dataset_id: int, direction: str
    ) -> None:
        column = getattr(model, owner)
        exists = self.s.scalar(
            select(model.id).where(column == owner_id, model.dataset_id == dataset_id, model.direction == direction)
        )
        if exists is None:
            self.s.add(model(**{owner: owner_id, "dataset_id": dataset_id, "direction": direction}))

    def run(self, event: RunEvent, job: t.Job, raw: dict[str, Any]) -> t.Run:
        run_uuid = str(event.run.run_id)
        when = utc(event.event_time)
        state = event.event_type or "OTHER"
        row = self.s.scalar(select(t.Run).where(t.Run.uuid == run_uuid))
        if row is None:
            row = t.Run(
                uuid=run_uuid,
                job_id=job.id,
                state=state,
                state_time=when,
                created_at=self.now,
                updated_at=self.now,
                facets={},
            )
            self.s.add(row)
            self.s.flush()
        elif event.event_type is not None and when >= utc(row.state_time):
            row.state, row.state_time = state, when
        row.updated_at = self.now
        if event.event_type == "START" and (row.started_at is None or when < utc(row.started_at)):
            row.started_at = when
        if event.event_type in TERMINAL_STATES:
            row.ended_at = when
        row.facets = {**row.facets, **(raw.get("run", {}).get("facets") or {})}
        return row
