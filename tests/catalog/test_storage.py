"""Storage: migrations match the ORM on both databases, ``catalog db upgrade``, schema hashing and diffs, name
resolution."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from catalog.cli import catalog
from catalog.errors import AmbiguousNameError, NotFoundError
from catalog.models import RunEvent, SchemaField
from catalog.query import diff_fields, schema_history
from catalog.storage.db import Database, normalize_url
from catalog.storage.ingest import ingest_event
from catalog.storage.reads import resolve_dataset
from catalog.storage.schema import flatten_fields, schema_hash
from catalog.storage.tables import Base

FACET = {"_producer": "https://example.com/p", "_schemaURL": "https://example.com/s"}


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    db.upgrade()  # idempotent
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert db.current_revision() == "0001"
    db.close()


def test_cli_db_upgrade(database_url: str) -> None:
    result = CliRunner().invoke(catalog, ["--database-url", database_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "revision 0001" in result.output


def test_normalize_url() -> None:
    assert normalize_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def _field(name: str, type_: str, **extra: object) -> SchemaField:
    return SchemaField.model_validate({"name": name, "type": type_, **extra})


def test_schema_hash_ignores_tags_but_not_types() -> None:
    plain = [_field("a", "int64"), _field("b", "string")]
    tagged = [_field("a", "int64"), _field("b", "string", tags=["email"])]
    retyped = [_field("a", "int32"), _field("b", "string")]
    assert schema_hash(plain) == schema_hash(tagged) != schema_hash(retyped)


def test_flatten_nested_fields() -> None:
    nested = [_field("address", "struct", fields=[{"name": "city", "type": "string"}])]
    assert [f.name for f in flatten_fields(nested)] == ["address", "address.city"]


def test_diff_fields_breaking_rules() -> None:
    v1 = [{"name": "a", "type": "int32"}, {"name": "b", "type": "string"}, {"name": "c", "type": "string"}]
    v2 = [{"name": "a", "type": "int64"}, {"name": "b", "type": "int64"}, {"name": "d", "type": "bool"}]
    diff = diff_fields(v1, v2)
    assert diff["added"] == [{"name": "d", "type": "bool"}]
    assert diff["removed"] == [{"name": "c", "type": "string"}]
    assert diff["typeChanged"] == [
        {"name": "a", "from": "int32", "to": "int64", "breaking": False},
        {"name": "b", "from": "string", "to": "int64", "breaking": True},
    ]
    assert diff["breaking"] is True
    assert diff_fields(v1, [*v1, {"name": "e", "type": "string"}])["breaking"] is False


def _event(
    namespace: str, name: str, fields: list[dict], *, symlink: str | None = None, at: str = "2025-01-01T00:00:00Z"
) -> tuple[RunEvent, dict]:
    facets: dict = {"schema": {**FACET, "fields": fields}}
    if symlink:
        facets["symlinks"] = {**FACET, "identifiers": [{"namespace": "x", "name": symlink, "type": "TABLE"}]}
    raw = {
        "eventType": "COMPLETE",
        "eventTime": at,
        "producer": "https://example.com/p",
        "schemaURL": "https://example.com/s",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "jobs", "name": "j"},
        "outputs": [{"namespace": namespace, "name": name, "facets": facets}],
    }
    return RunEvent.model_validate(raw), raw


def test_names_resolve_or_say_why_not(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    with db.session() as s:
        ingest_event(s, *_event("kafka://b:9092", "orders", [{"name": "id", "type": "int64"}]))
        ingest_event(s, *_event("file", "/lake/orders", [{"name": "id", "type": "int64"}], symlink="orders"))
    with db.session() as s:
        assert resolve_dataset(s, "kafka://b:9092:orders").name == "orders"
        assert resolve_dataset(s, "dataset:file:/lake/orders").name == "/lake/orders"
        # the topic and the table's logical name are both `orders`: a bare name means the table
        assert resolve_dataset(s, "orders").name == "/lake/orders"
        assert resolve_dataset(s, "table:orders").name == "/lake/orders"
        assert resolve_dataset(s, "table:/lake/orders").name == "/lake/orders"
        assert resolve_dataset(s, "topic:orders").name == "orders"
        with pytest.raises(NotFoundError):
            resolve_dataset(s, "missing")
        with pytest.raises(NotFoundError):
            resolve_dataset(s, "topic:/lake/orders")
    with db.session() as s:  # a second lake with an `orders` table, a second broker with an `orders` topic
        ingest_event(s, *_event("file", "/lake2/orders", [{"name": "id", "type": "int64"}], symlink="orders"))
        ingest_event(s, *_event("kafka://c:9092", "orders", [{"name": "id", "type": "int64"}]))
    with db.session() as s:
        for ref in ("orders", "table:orders"):
            with pytest.raises(AmbiguousNameError) as info:
                resolve_dataset(s, ref)
            assert set(info.value.candidates) == {"dataset:file:/lake/orders", "dataset:file:/lake2/orders"}
            assert "dataset:file:/lake2/orders" in str(info.value)
        with pytest.raises(AmbiguousNameError) as info:
            resolve_dataset(s, "topic:orders")
        assert set(info.value.candidates) == {"dataset:kafka://b:9092:orders", "dataset:kafka://c:9092:orders"}
        assert resolve_dataset(s, "kafka://c:9092:orders").name == "orders"
    db.close()
    cli = CliRunner().invoke(catalog, ["--database-url", database_url, "schema-history", "orders"])
    assert cli.exit_code == 1
    assert "dataset:file:/lake/orders, dataset:file:/lake2/orders; name one as dataset:<namespace>:<name>" in cli.output


def test_unnumbered_schema_changes_make_versions(database_url: str) -> None:
    db = Database(database_url)
    db.upgrade()
    v1 = [{"name": "id", "type": "int32"}, {"name": "gone", "type": "string"}]
    v2 = [{"name": "id", "type": "string"}]
    with db.session() as s:
        ingest_event(s, *_event("file", "/t", v1, at="2025-01-01T00:00:00Z"))
        ingest_event(s, *_event("file", "/t", v1, at="2025-01-01T00:01:00Z"))  # same schema: no new version
        ingest_event(s, *_event("file", "/t", v2, at="2025-01-01T00:02:00Z"))
        ingest_event(s, *_event("file", "/t", v1, at="2025-01-01T00:00:30Z"))  # late: does not revive v1
    with db.session() as s:
        history = schema_history(s, "file:/t")["versions"]
    assert [len(v["fields"]) for v in history] == [2, 1]
    assert history[1]["diff"]["breaking"] is True
    assert history[1]["diff"]["removed"] == [{"name": "gone", "type": "string"}]
    db.close()
