"""ORM tables (SQLAlchemy 2 declarative). The Alembic migrations in ``catalog/storage/migrations`` create them.

Entities and keys::

    namespaces ─< datasets ─< dataset_versions >─ schema_versions ─< fields   (current version = highest id)
                    │  │  └─< dataset_symlinks            (a dataset version may have no schema: NULL)
                    │  └──< dataset_tags >─ tags ─< field_tags >─ datasets
                    └─< column_lineage (output field ← input dataset field)
    namespaces ─< jobs ─< job_datasets >─ datasets  (direction "in" | "out")
                    └─< runs ─< run_datasets >─ datasets
                          └─< loads ─< load_offsets   (loads >─ dataset_versions)
    events      every raw event as received (JSON), in arrival order

Times are stored timezone-aware (UTC). Facets are stored as received (JSON), latest value per facet name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ColumnLineage",
    "Dataset",
    "DatasetSymlink",
    "DatasetTag",
    "DatasetVersion",
    "Event",
    "Field",
    "FieldTag",
    "Job",
    "JobDataset",
    "Load",
    "LoadOffset",
    "Namespace",
    "Run",
    "RunDataset",
    "SchemaVersion",
    "Tag",
]

JsonType = JSON().with_variant(JSONB(), "postgresql")
Time = DateTime(timezone=True)
Name = String(1024)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JsonType, list[Any]: JsonType, datetime: Time}


class Namespace(Base):
    __tablename__ = "namespaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Name, unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    description: Mapped[str | None] = mapped_column(Text)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(Name, index=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DatasetSymlink(Base):
    __tablename__ = "dataset_symlinks"
    __table_args__ = (UniqueConstraint("dataset_id", "namespace", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    namespace: Mapped[str] = mapped_column(Name)
    name: Mapped[str] = mapped_column(Name, index=True)
    type: Mapped[str] = mapped_column(String(64))


class SchemaVersion(Base):
    """A distinct schema of a dataset; ``hash`` is the SHA-256 of the canonical JSON of the schema facet's fields."""

    __tablename__ = "schema_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Field(Base):
    """A field of a schema version; nested struct fields are flattened to dotted paths (``address.city``)."""

    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("schema_version_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema_version_id: Mapped[int] = mapped_column(ForeignKey("schema_versions.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(Name)
    type: Mapped[str | None] = mapped_column(String(512))
    description: Mapped[str | None] = mapped_column(Text)


class DatasetVersion(Base):
    """One per output ``version`` facet value (Delta version), or per schema change when there is none."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[str | None] = mapped_column(String(256))
    schema_version_id: Mapped[int | None] = mapped_column(ForeignKey("schema_versions.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    contract_name: Mapped[str | None] = mapped_column(String(256))
    contract_version: Mapped[str | None] = mapped_column(String(64))
    contract_hash: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    key: Mapped[str] = mapped_column(String(256))
    value: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)


class DatasetTag(Base):
    __tablename__ = "dataset_tags"
    __table_args__ = (UniqueConstraint("dataset_id", "tag_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), index=True)
    source: Mapped[str | None] = mapped_column(String(128))


class FieldTag(Base):
    """A tag on a dataset's field (by name; the dataset's current tags, replaced when a new tags facet arrives)."""

    __tablename__ = "field_tags"
    __table_args__ = (UniqueConstraint("dataset_id", "field", "tag_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(Name)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), index=True)
    source: Mapped[str | None] = mapped_column(String(128))


class ColumnLineage(Base):
    """Output field ``field`` of ``dataset_id`` is computed from ``input_field`` of ``input_dataset_id``.
    ``field`` is NULL for dataset-level dependencies (spec ``columnLineage.dataset``)."""

    __tablename__ = "column_lineage"
    __table_args__ = (UniqueConstraint("dataset_id", "field", "input_dataset_id", "input_field"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    field: Mapped[str | None] = mapped_column(Name)
    input_dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    input_field: Mapped[str] = mapped_column(Name)
    transformation_type: Mapped[str | None] = mapped_column(String(256))
    transformation_description: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(Name, index=True)
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobDataset(Base):
    __tablename__ = "job_datasets"
    __table_args__ = (UniqueConstraint("job_id", "dataset_id", "direction"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))


class Run(Base):
    """A run; ``state`` is the latest OpenLineage eventType by event time (START/RUNNING/COMPLETE/FAIL/ABORT/OTHER)."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    state_time: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)


class RunDataset(Base):
    __tablename__ = "run_datasets"
    __table_args__ = (UniqueConstraint("run_id", "dataset_id", "direction"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))


class Load(Base):
    """One streamproc load (run facet ``streamproc_load``): a Delta commit of one micro-batch."""

    __tablename__ = "loads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    load_id: Mapped[str] = mapped_column(String(256), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"))
    table: Mapped[str] = mapped_column(Name)
    delta_version: Mapped[int] = mapped_column(BigInteger)
    contract_name: Mapped[str] = mapped_column(String(256))
    contract_version: Mapped[str] = mapped_column(String(64))
    contract_hash: Mapped[str | None] = mapped_column(String(128))
    rows_landed: Mapped[int] = mapped_column(BigInteger)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class LoadOffset(Base):
    """A Kafka offset range ``[first, last]`` (inclusive) of one partition, landed by a load."""

    __tablename__ = "load_offsets"
    __table_args__ = (Index("ix_load_offsets_lookup", "topic", "partition", "first", "last"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("loads.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(Name)
    partition: Mapped[int]
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)


class Event(Base):
    """Every accepted event, verbatim, in arrival order (Marquez ``/api/v1/events/lineage``)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(16))
    event_time: Mapped[datetime] = mapped_column(index=True)
    run_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    job_namespace: Mapped[str | None] = mapped_column(Name)
    job_name: Mapped[str | None] = mapped_column(Name)
    producer: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
