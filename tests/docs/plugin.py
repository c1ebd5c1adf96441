"""pytest plugin (registered by the repository's root ``conftest.py``): what the Markdown files' code blocks run with.

- Python fences are collected and run by pytest-markdown-docs (``--markdown-docs``); the fixtures they name
  (``fixture:demo_lake``) are defined here.
- Every other fence of the same files becomes an item here (``README.md::yaml@line 151``): configs are loaded, JSON
  checked, shell run, synopses checked against the CLI; ``notest`` fences must say why (:mod:`tests.docs.fences`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(autouse=True)
def _declared_contracts_compile_and_validate(request: pytest.FixtureRequest) -> Iterator[None]:
    """A Python fence that declares contracts is not done when it ran: each contract it declared must compile to an
    Arrow schema and a schema hash and judge a batch (an event that is not JSON is quarantined as malformed)."""
    if request.node.get_closest_marker("markdown-docs") is None:
        yield
        return
    from contracts import Contract

    before = _subclasses(Contract)
    yield
    from contracts import contract_arrow_schema, schema_hash, validate_batch

    for contract in _subclasses(Contract) - before:
        assert len(contract_arrow_schema(contract)) > 0, contract
        assert schema_hash(contract).startswith("sha256:")
        result = validate_batch(contract, [b"{not json"])
        assert len(result.rejected) == 1, f"{contract.__name__} accepted an event that is not JSON"


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


class MarkdownFences(pytest.File):
    """The non-Python fences of one Markdown file users read, each a test function (``README.md::yaml@line 151``)
    with pytest's fixtures: ``tmp_path``, ``monkeypatch`` and those it names (``fixture:demo_lake``)."""

    def collect(self) -> Iterator[pytest.Item]:
        for fence in fences(self.path):
            if fence.language in PYTHON and not fence.notest:
                continue  # pytest-markdown-docs runs it
            item = pytest.Function.from_parent(self, name=fence.name, callobj=_test_of(fence))
            item.add_marker(pytest.mark.markdown_fence)
            yield item


def _test_of(fence: Fence) -> Callable[..., None]:
    def test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **fixtures: Any) -> None:
        run_fence(fence, tmp_path, monkeypatch, fixtures)

    parameters = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("tmp_path", "monkeypatch")]
    parameters += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in fence.fixtures]
    test.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # pytest reads the fixtures here
    test.__doc__ = f"{fence.path.name}, line {fence.line}: a {fence.language or 'untagged'} block"
    return test


def run_fence(fence: Fence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures: dict[str, Any]) -> None:
    """Run (or check) one fence; a shell fence that names ``fixture:demo_lake`` runs in the demo project folder."""
    if fence.notest:
        # a block that is not run says why, in its first line, for readers and reviewers alike
        assert fence.reason, f"a notest block starts with '# not run in tests: <why>' ({fence.path}:{fence.line})"
        return
    lake = fixtures.get("demo_lake")
    if fence.language in CONFIG:
        checks.check_config(fence, tmp_path, monkeypatch)
    elif fence.language == "json":
        checks.check_json(fence)
    elif fence.language in SHELL:
        checks.run_shell(fence, lake.root if lake else tmp_path, env=dict(os.environ))
    elif fence.language in NOT_CODE:
        checks.check_synopsis(fence)
    else:
        raise AssertionError(
            f"{fence.path}:{fence.line}: a fence of language {fence.language or '(none)'!r} is neither run "
            "nor marked: tag it (python, yaml, toml, json, bash, text) or add 'notest' and a reason"
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "markdown_fence: a non-Python code block of a Markdown file (tests/docs/)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> MarkdownFences | None:
    if file_path.suffix == ".md" and file_path in set(documents()):
        return MarkdownFences.from_parent(parent, path=file_path)
    return None
