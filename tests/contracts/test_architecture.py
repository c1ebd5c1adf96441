"""The contracts SDK's modules import one another without a cycle (``contracts-acyclic`` in ``pyproject.toml``,
checked by import-linter; type-only imports count; ``contracts.results`` is the leaf that carries the verdicts). That
it imports no runtime, catalog or I/O library is tests/test_architecture.py's."""

from __future__ import annotations

from tests.fixtures.architecture import assert_import_contracts_kept


def test_the_contracts_sdk_has_no_import_cycle() -> None:
    assert_import_contracts_kept("contracts-acyclic")
