"""The docs site builds with MkDocs in strict mode (every warning an error), so its API reference cannot drift from
the code: a renamed function, a docstring whose ``Args`` do not match the signature, a broken anchor all fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.docs.fences import REPO


def test_the_site_builds_strictly_and_documents_the_public_api(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr

    def page(path: str) -> str:
        return (site / path / "index.html").read_text(encoding="utf-8")

    assert all(name in page("reference/contracts") for name in ("validate_batch", "Contract", "Tag", "Mode"))
    assert all(name in page("reference/config") for name in ("PipelineConfig", "load_config", "BatchConfig"))
    assert all(name in page("reference/reading") for name in ("read_table", "read_quarantine", "read_loads"))
    assert all(f"streamproc {command}" in page("reference/cli") for command in ("run", "replay", "positions"))
    assert "/api/v1/lineage" in page("reference/catalog-api")
    assert "read_table" in page("reading") and "delta_scan" in page("reading")
