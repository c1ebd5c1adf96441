"""Every Markdown file users read is in the list whose code blocks run (tests/docs/fences.py), and no fence hides
from both runners."""

from __future__ import annotations

import subprocess

from tests.docs.fences import CONFIG, NOT_CODE, PYTHON, REPO, SHELL, documents, fences

# Generated reports (bench/RESULTS.md is written by `make bench`) and analysis notes: no code blocks to run.
NOT_USER_DOCS = {"bench/RESULTS.md", "bench/analysis.md"}


def test_every_markdown_file_in_the_repository_is_run_or_named_as_not_user_docs() -> None:
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=REPO, capture_output=True, text=True, check=True)
    listed = {str(path.relative_to(REPO)) for path in documents()}
    missing = set(tracked.stdout.split()) - listed - NOT_USER_DOCS
    assert not missing, f"add them to tests/docs/fences.py DOCUMENTS (or NOT_USER_DOCS with a reason): {missing}"


def test_every_fence_has_a_language_its_runner_knows() -> None:
    known = PYTHON | SHELL | CONFIG | NOT_CODE | {"json"}
    unknown = [f"{f.path.name}:{f.line} {f.language!r}" for p in documents() for f in fences(p) if f.language not in known]
    assert not unknown, f"fences no runner handles: {unknown}"
