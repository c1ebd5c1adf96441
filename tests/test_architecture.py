"""The architecture's contracts (``[tool.importlinter]`` in pyproject.toml, DESIGN.md "Inside streamproc/"): the
contracts SDK imports no runtime, catalog or I/O library, and the runtime's layers (cli → runtime → observe →
validation → sinks → batching → sources → lineage → config → errors → records) only import downwards. Checked by
import-linter's own ``lint-imports`` on the real source tree (the catalog's contracts: tests/catalog)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache", "--contract", "contracts-no-io", "--contract", "streamproc-layers"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
