"""The architecture's contracts (``[tool.importlinter]`` in pyproject.toml, DESIGN.md "Inside streamproc/"): the
contracts SDK imports no runtime, catalog or I/O library, and the runtime's layers (cli → runtime → observe →
validation → sinks → batching → sources → lineage → config → errors → records) only import downwards. Checked by
import-linter's own ``lint-imports`` on the real source tree (the catalog's contracts: tests/catalog)."""

from __future__ import annotations

from tests.fixtures.architecture import assert_import_contracts_kept


def test_the_import_contracts_hold() -> None:
    assert_import_contracts_kept("contracts-no-io", "streamproc-layers")
