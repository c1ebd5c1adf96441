"""The docs site builds with MkDocs in strict mode (every warning an error), so its API reference cannot drift from
the code: a renamed function, a docstring whose ``Args`` do not match the signature, a broken link or anchor all fail.
The README is the site's overview page and the way in on GitHub: it links every page of the guide."""

from __future__ import annotations

import os
import re
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
    # the README's links, written for GitHub (docs/reading.md, contracts/README.md), lead to the site's pages
    overview = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="reading/#why-not-deltatableto_pyarrow_table"' in overview
    assert 'href="contracts/"' in overview and 'src="screenshots/lineage.png"' in overview


def test_the_readme_links_every_page_of_the_site() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([^)#\s]+)", readme))
    included = {  # a page that only includes a README of the repository is linked as that README (GitHub shows it)
        page: match.group(1)
        for page in (REPO / "docs").glob("*.md")
        if (match := re.fullmatch(r'--8<-- "([^"]+)"\s*', page.read_text(encoding="utf-8")))
    }
    pages = [page for page in (REPO / "docs").glob("*.md") if page.name != "index.md"]
    missing = [page.name for page in pages if f"docs/{page.name}" not in linked and included.get(page) not in linked]
    assert not missing, f"README.md links no page for: {missing}"
