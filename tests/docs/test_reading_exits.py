"""Every documented way to read the tables exits 0, every time, in a fresh interpreter.

``DeltaTable(...).to_pyarrow_table()`` reads correctly, then aborts the interpreter at exit in some runs (exit code
134; docs/reading.md says why). An abort that happens once in twenty runs is missed by a single run: the first
snippet per engine that reads the demo lake (the fences marked ``fixture:demo_lake``, taken from the README and
docs/reading.md themselves; the README's comes first) runs in each of :data:`RUNS` fresh interpreters, a few at
once, and every interpreter must exit 0. One interpreter runs every engine's snippet in turn (each in a namespace of
its own), so that the interpreter start and the shared imports (pyarrow, deltalake) are paid once per run, not once
per snippet: an abort at exit caused by any one snippet still fails that run. With 60 runs a snippet that aborts one
run in twenty passes with probability 0.95**60 < 5 %. Cost: 60 interpreters of ~1-2 s CPU each; one interpreter per
snippet and run (300) took 199-217 s inside a whole `make test` on a loaded machine.
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


_ALL_IN_TURN = """
import sys
for name, source in SNIPPETS:
    print(f"reading with {name}", file=sys.stderr, flush=True)
    exec(compile(source, name, "exec"), {"__name__": "__main__"})
"""


def _run(snippets: list[Fence], lake: DemoLake, home: str) -> tuple[int, str]:
    named = [(f"{fence.path.name}:{fence.line}", fence.source) for fence in snippets]
    done = subprocess.run(
        [sys.executable, "-c", f"SNIPPETS = {named!r}\n{_ALL_IN_TURN}"],
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
    snippets = _one_per_engine()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda _: _run(snippets, demo_lake_root, str(duckdb_home_dir)), range(RUNS)))
    failures = Counter(code for code, _ in results if code != 0)
    first_error = next((stderr for code, stderr in results if code != 0), "")
    assert not failures, (
        f"exit codes other than 0 in {RUNS} runs of {[f'{f.path.name}:{f.line}' for f in snippets]}: {failures}; "
        f"the first failed run's stderr (its last 'reading with' line names the snippet it was in):\n{first_error}"
    )
