"""The contracts SDK's architecture contracts (``[tool.importlinter]`` in ``pyproject.toml``), checked by
import-linter: it imports neither the runtime nor the catalog, and its modules import one another without a cycle
(type-only imports count; ``contracts.results`` is the leaf that carries the verdicts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_contracts_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--contract", "contracts-standalone", "--contract", "contracts-acyclic"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
