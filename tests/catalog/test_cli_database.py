"""A query against a catalog database that does not exist says so and creates nothing (issue 13.5); the demo and the
README name the same catalog database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from catalog.cli import catalog
from tests.catalog.conftest import Server

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args",
    [
        ["lineage", "flights"],
        ["schema-history", "flights"],
        ["pii"],
        ["loads", "flights"],
        ["search", "flig"],
    ],
)
def test_query_of_a_missing_database_fails_and_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "nowhere" / "catalog.db"
    result = CliRunner().invoke(catalog, ["--database-url", f"sqlite:///{db}", *args])
    assert result.exit_code == 1, result.output
    assert f"no catalog database at {db}" in result.output
    assert not db.exists() and not db.parent.exists()


def test_default_database_missing_names_it_and_the_demo_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    monkeypatch.delenv("CATALOG_URL", raising=False)
    result = CliRunner().invoke(catalog, ["lineage", "flights"])
    assert result.exit_code == 1, result.output
    assert "no catalog database at var/catalog/catalog.db" in result.output
    assert "var/demo/catalog/catalog.db" in result.output  # where `make demo` put its catalog
    assert not (tmp_path / "var").exists()


def test_db_upgrade_still_creates_the_database(tmp_path: Path) -> None:
    db = tmp_path / "new" / "catalog.db"
    result = CliRunner().invoke(catalog, ["--database-url", f"sqlite:///{db}", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert db.is_file()
    queried = CliRunner().invoke(catalog, ["--database-url", f"sqlite:///{db}", "search", "x", "--json"])
    assert queried.exit_code == 0, queried.output


def test_demo_and_readme_agree_on_the_catalog_database() -> None:
    spec = importlib.util.spec_from_file_location("flights_demo", REPO / "examples" / "flights" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    where = demo.CATALOG_DB.relative_to(REPO).as_posix()
    assert where == "var/demo/catalog/catalog.db"
    readme = (REPO / "README.md").read_text()
    assert f"CATALOG_DATABASE_URL=sqlite:///{where}" in readme
    assert "make catalog-ui" in readme


def test_an_empty_catalog_says_it_holds_no_datasets_yet(server: Server) -> None:
    # "no dataset named 'orders' (try `search`)": search finds nothing either, and nothing said how datasets arrive
    answer = httpx.get(f"{server.url}/api/v1/catalog/lineage", params={"dataset": "orders"},
                       headers={"Authorization": f"Bearer {server.token}"})
    assert answer.status_code == 404
    assert "the catalog holds no datasets yet" in answer.json()["message"]
    assert "lineage: {enabled: true}" in answer.json()["message"]

    result = CliRunner().invoke(catalog, ["--url", server.url, "--token", server.token, "schema-history", "orders"])
    assert result.exit_code == 1
    assert "the catalog holds no datasets yet" in result.output
