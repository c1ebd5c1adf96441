"""Every documented way to read the tables exits 0, every time, in a fresh interpreter.

``DeltaTable(...).to_pyarrow_table()`` reads correctly, then aborts the interpreter at exit in some runs (exit code
134; docs/reading.md says why). An abort that happens once in twenty runs is missed by a single run: the first
snippet per engine that reads the demo lake (the fences marked ``fixture:demo_lake``, taken from the README and
docs/reading.md themselves; the README's comes first) runs in :data:`RUNS` fresh interpreters, all runs at once on
a small pool, and every one must exit 0. With 60 runs a snippet that aborts one run in twenty passes with
probability 0.95**60 < 5 %. Cost: 300 interpreters of 0.1-0.6 s CPU each (~2 CPU-minutes): about a minute on
two idle cores, 217 s measured inside a whole `make test` on a loaded machine (load average ~10).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.docs.fences import Fence, documents, fences
from tests.docs.lake import DemoLake

RUNS = 60
ENGINES = {
    "streamproc.read_table": "streamproc",
    "delta_scan(": "DuckDB",
    "pl.read_delta(": "polars",
    "QueryBuilder()": "delta-rs QueryBuilder",
    "to_pyarrow_table(filesystem=": "to_pyarrow_table with a native file system",
}


def _reading_snippets() -> list[Fence]:
    return [f for path in documents() for f in fences(path) if "demo_lake" in f.fixtures and not f.notest]


def _one_per_engine() -> list[Fence]:
    chosen: list[Fence] = []
    for marker in ENGINES:
        first = next(f for f in _reading_snippets() if marker in f.source)
        if first not in chosen:
            chosen.append(first)
    return chosen


def _run(source: str, lake: DemoLake, home: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-c", source],
        cwd=lake.root,
        env={**os.environ, "HOME": home},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stderr[-2000:]


def test_the_documented_reads_cover_every_engine() -> None:
    snippets = "\n".join(f.source for f in _reading_snippets())
    missing = [engine for marker, engine in ENGINES.items() if marker not in snippets]
    assert not missing, f"no documented, tested read with {missing}"


def test_every_documented_read_exits_0_in_every_one_of_many_fresh_interpreters(
    demo_lake_root: DemoLake, duckdb_home_dir: os.PathLike[str]
) -> None:
    jobs = [fence for fence in _one_per_engine() for _ in range(RUNS)]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda fence: _run(fence.source, demo_lake_root, str(duckdb_home_dir)), jobs))
    failures: dict[str, Counter[int]] = {}
    first_error: dict[str, str] = {}
    for fence, (code, stderr) in zip(jobs, results, strict=True):
        if code != 0:
            where = f"{fence.path.name}:{fence.line}"
            failures.setdefault(where, Counter())[code] += 1
            first_error.setdefault(where, stderr)
    assert not failures, f"exit codes other than 0 in {RUNS} runs each: {failures}; first stderr: {first_error}"
