"""The contracts SDK's architecture contracts (``[tool.importlinter]`` in ``pyproject.toml``), checked by
import-linter: it imports neither the runtime nor the catalog, and its modules import one another without a cycle
(type-only imports count; ``contracts.results`` is the leaf that carries the verdicts)."""

from __future__ import annotations

from tests.fixtures.architecture import assert_import_contracts_kept


def test_contracts_import_contracts_are_kept() -> None:
    assert_import_contracts_kept("contracts-standalone", "contracts-acyclic")
