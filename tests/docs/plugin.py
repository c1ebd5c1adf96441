"""pytest plugin (registered by the repository's root ``conftest.py``): what the Markdown files' code blocks run with.

- Python fences are collected and run by pytest-markdown-docs (``--markdown-docs``); the fixtures they name
  (``fixture:demo_lake``) are defined here.
- Every other fence of the same files becomes an item here (``README.md::yaml@line 151``): configs are loaded, JSON
  checked, shell run, synopses checked against the CLI; ``notest`` fences must say why (:mod:`tests.docs.fences`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs import checks
from tests.docs.fences import CONFIG, NOT_CODE, PYTHON, SHELL, Fence, documents, fences
from tests.docs.lake import DemoLake, build_demo_lake, duckdb_home

__all__ = ["demo_lake", "demo_lake_root", "duckdb_home_dir"]


@pytest.fixture(scope="session")
def demo_lake_root(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """A project folder with ``var/demo/lake/{flights,flights__quarantine,_loads}``, landed once per session."""
    return build_demo_lake(tmp_path_factory.mktemp("demo-project"))


@pytest.fixture(scope="session")
def duckdb_home_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``$HOME`` with DuckDB's ``delta`` extension installed (from its PyPI package: no download at test time)."""
    return duckdb_home(tmp_path_factory.mktemp("duckdb-home"))


@pytest.fixture
def demo_lake(demo_lake_root: DemoLake, duckdb_home_dir: Path, monkeypatch: pytest.MonkeyPatch) -> DemoLake:
    """For fences that read ``var/demo/lake/...``: the working directory is the demo project folder."""
    monkeypatch.chdir(demo_lake_root.root)
    monkeypatch.setenv("HOME", str(duckdb_home_dir))
    return demo_lake_root


class MarkdownFences(pytest.File):
    """The non-Python fences of one Markdown file users read."""

    def collect(self) -> Iterator[pytest.Item]:
        for fence in fences(self.path):
            if fence.language in PYTHON and not fence.notest:
                continue  # pytest-markdown-docs runs it
            yield FenceItem.from_parent(self, name=fence.name, fence=fence)


class FenceItem(pytest.Item):
    def __init__(self, *, fence: Fence, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fence = fence
        self.add_marker(pytest.mark.markdown_fence)

    def runtest(self) -> None:
        fence = self.fence
        if fence.notest:
            # a block that is not run says why, in its first line, for readers and reviewers alike
            assert fence.reason, f"a notest block starts with '# not run in tests: <why>' ({fence.path}:{fence.line})"
            return
        with pytest.MonkeyPatch.context() as monkeypatch:
            folder = self._folder()
            if fence.language in CONFIG:
                checks.check_config(fence, folder, monkeypatch)
            elif fence.language == "json":
                checks.check_json(fence)
            elif fence.language in SHELL:
                checks.run_shell(fence, folder, env=dict(os.environ))
            elif fence.language in NOT_CODE:
                checks.check_synopsis(fence)
            else:
                raise AssertionError(
                    f"{fence.path}:{fence.line}: a fence of language {fence.language or '(none)'!r} is neither run "
                    "nor marked: tag it (python, yaml, toml, json, bash, text) or add 'notest' and a reason"
                )

    def _folder(self) -> Path:
        factory: pytest.TempPathFactory = self.config._tmp_path_factory  # type: ignore[attr-defined]
        return factory.mktemp("fence")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.fence.line - 1, f"{self.path.name}: {self.fence.name}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "markdown_fence: a non-Python code block of a Markdown file (tests/docs/)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> MarkdownFences | None:
    if file_path.suffix == ".md" and file_path in set(documents()):
        return MarkdownFences.from_parent(parent, path=file_path)
    return None
