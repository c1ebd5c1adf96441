"""The catalog's architecture contracts (``[tool.importlinter]`` in ``pyproject.toml``), checked by import-linter."""

from __future__ import annotations

from tests.fixtures.architecture import assert_import_contracts_kept


def test_catalog_import_contracts_are_kept() -> None:
    assert_import_contracts_kept("catalog-no-runtime", "catalog-acyclic")
