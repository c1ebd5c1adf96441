"""Initial schema: namespaces, datasets, versions, schemas, fields, tags, lineage, jobs, runs, loads, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 09:10:25.242881
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_uuid", sa.String(length=36), nullable=True),
        sa.Column("job_namespace", sa.String(length=1024), nullable=True),
        sa.Column("job_name", sa.String(length=1024), nullable=True),
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_event_time"), ["event_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_run_uuid"), ["run_uuid"], unique=False)

    op.create_table(
        "namespaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "facets", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datasets_name"), ["name"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "facets", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace_id", "name"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_name"), ["name"], unique=False)

    op.create_table(
        "column_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=1024), nullable=True),
        sa.Column("input_dataset_id", sa.Integer(), nullable=False),
        sa.Column("input_field", sa.String(length=1024), nullable=False),
        sa.Column("transformation_type", sa.String(length=256), nullable=True),
        sa.Column("transformation_description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["input_dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "field", "input_dataset_id", "input_field"),
    )
    with op.batch_alter_table("column_lineage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_column_lineage_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_column_lineage_input_dataset_id"), ["input_dataset_id"], unique=False)

    op.create_table(
        "dataset_symlinks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "namespace", "name"),
    )
    with op.batch_alter_table("dataset_symlinks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_symlinks_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dataset_symlinks_name"), ["name"], unique=False)

    op.create_table(
        "dataset_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "tag_id"),
    )
    with op.batch_alter_table("dataset_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_tags_tag_id"), ["tag_id"], unique=False)

    op.create_table(
        "field_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=1024), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "field", "tag_id"),
    )
    with op.batch_alter_table("field_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_tags_tag_id"), ["tag_id"], unique=False)

    op.create_table(
        "job_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "dataset_id", "direction"),
    )
    with op.batch_alter_table("job_datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_datasets_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "facets", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_job_id"), ["job_id"], unique=False)

    op.create_table(
        "schema_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "hash"),
        sa.UniqueConstraint("uuid"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=256), nullable=True),
        sa.Column("schema_version_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("contract_name", sa.String(length=256), nullable=True),
        sa.Column("contract_version", sa.String(length=64), nullable=True),
        sa.Column("contract_hash", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "facets", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["schema_version_id"],
            ["schema_versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "version"),
        sa.UniqueConstraint("uuid"),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_versions_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schema_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("type", sa.String(length=512), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["schema_version_id"], ["schema_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schema_version_id", "name"),
    )
    op.create_table(
        "run_datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "dataset_id", "direction"),
    )
    op.create_table(
        "loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("load_id", sa.String(length=256), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("table", sa.String(length=1024), nullable=False),
        sa.Column("delta_version", sa.BigInteger(), nullable=False),
        sa.Column("contract_name", sa.String(length=256), nullable=False),
        sa.Column("contract_version", sa.String(length=64), nullable=False),
        sa.Column("contract_hash", sa.String(length=128), nullable=True),
        sa.Column("rows_landed", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("load_id"),
    )
    with op.batch_alter_table("loads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loads_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loads_run_id"), ["run_id"], unique=False)

    op.create_table(
        "load_offsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=1024), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("first", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["loads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("load_offsets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_load_offsets_load_id"), ["load_id"], unique=False)
        batch_op.create_index("ix_load_offsets_lookup", ["topic", "partition", "first", "last"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("load_offsets", schema=None) as batch_op:
        batch_op.drop_index("ix_load_offsets_lookup")
        batch_op.drop_index(batch_op.f("ix_load_offsets_load_id"))

    op.drop_table("load_offsets")
    with op.batch_alter_table("loads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loads_run_id"))
        batch_op.drop_index(batch_op.f("ix_loads_dataset_id"))

    op.drop_table("loads")
    op.drop_table("run_datasets")
    op.drop_table("fields")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_versions_dataset_id"))

    op.drop_table("dataset_versions")
    op.drop_table("schema_versions")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_job_id"))

    op.drop_table("runs")
    with op.batch_alter_table("job_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_datasets_dataset_id"))

    op.drop_table("job_datasets")
    with op.batch_alter_table("field_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_tags_tag_id"))

    op.drop_table("field_tags")
    with op.batch_alter_table("dataset_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_tags_tag_id"))

    op.drop_table("dataset_tags")
    with op.batch_alter_table("dataset_symlinks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_symlinks_name"))
        batch_op.drop_index(batch_op.f("ix_dataset_symlinks_dataset_id"))

    op.drop_table("dataset_symlinks")
    with op.batch_alter_table("column_lineage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_column_lineage_input_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_column_lineage_dataset_id"))

    op.drop_table("column_lineage")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_name"))

    op.drop_table("jobs")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasets_name"))

    op.drop_table("datasets")
    op.drop_table("tags")
    op.drop_table("namespaces")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_run_uuid"))
        batch_op.drop_index(batch_op.f("ix_events_event_time"))

    op.drop_table("events")
