"""Where streamproc's file → Delta path spends its time: one run under py-spy, summarised.

py-spy samples every thread of the worker process (the landing runs in anyio worker threads, which in-process
profilers like pyinstrument do not see), natively, without slowing the run much. The raw output (collapsed stacks,
``frame;frame;... count``) is kept; the summary is the share of active samples per function, inclusive (the stage
and everything it calls) and self (its own code), of samples taken inside the pipeline; modules imported lazily during the run are counted
apart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import DataFile
from bench.runner import REPO

__all__ = ["Profile", "profile_file_path", "summarise"]

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
# A sample counts when its stack is inside the pipeline's work: a method of these (not the import of their modules).
_INSIDE = ("Pipeline.", "LoadPreparer.", "TablePreparer.", "Committer.", "Checkpoint.", "FileSource.")


@dataclass(slots=True)
class Profile:
    """A summarised profile.

    Attributes:
        samples: active samples inside the pipeline's work (lazy imports excluded).
        import_samples: samples spent importing modules lazily during the run (a one-off start-up cost).
        inclusive: ``(function (file), share of samples)`` for the busiest functions, stack included.
        self_time: the same for the functions whose own code ran, leaf frames.
        raw: the collapsed-stacks file py-spy wrote.
        failed: why there is no profile.
    """

    samples: int = 0
    import_samples: int = 0
    inclusive: list[tuple[str, float]] = field(default_factory=list)
    self_time: list[tuple[str, float]] = field(default_factory=list)
    raw: str | None = None
    failed: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(collapsed: str, *, top: int = 15) -> Profile:
    """Summarise py-spy's raw (collapsed stacks) output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples = imports = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";")]
        if not any(f.startswith(_INSIDE) for f in frames):
            continue
        count = int(count_text)
        if any(f.startswith("_find_and_load ") for f in frames):
            imports += count  # a module imported lazily during the run: a one-off, reported apart
            continue
        samples += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not samples:
        return Profile(failed="no samples inside the pipeline")
    # Frames every stack has (threads, event loop, runners): they say nothing about where the time goes.
    generic = re.compile(r"^(_?run|main|<module>|_run_module_as_main|_run_code|__call__|\w*WorkerThread\.run|"
                         r"Thread\._bootstrap\w*|Runner\.run|BaseEventLoop\.\w+|Handle\._run|"
                         r"AsyncIOBackend\.run|TaskHandle\._run_coro|Context\.run) ")
    busiest = [(f, n / samples) for f, n in inclusive.most_common() if not generic.match(f)][:top]
    return Profile(samples=samples, import_samples=imports, inclusive=busiest,
                   self_time=[(f, n / samples) for f, n in own.most_common(top)])


def _short(frame: str) -> str:
    """``function (file.py)`` with the file's last two path parts, line numbers dropped."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    parts = Path(match["file"]).parts
    return f"{match['function']} ({'/'.join(parts[-2:])})"


def profile_file_path(data: DataFile, *, workdir: Path, python: str, batch_rows: int, out: Path) -> Profile:
    """Run the ``streamproc_file`` contestant once on ``data`` under ``py-spy record`` (250 Hz, every thread)."""
    py_spy = shutil.which("py-spy", path=str(Path(python).parent)) or shutil.which("py-spy")
    if py_spy is None:
        return Profile(failed="py-spy is not installed (pip install -e '.[bench]')")
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    spec = workdir / "spec.json"
    spec.write_text(json.dumps({"data": data.as_dict(), "workdir": str(workdir), "batch_rows": batch_rows}))
    done = subprocess.run(  # noqa: S603 - our own worker under the profiler
        [py_spy, "record", "--format", "raw", "--rate", "250", "--output", str(out), "--",
         python, "-m", "bench.worker", "streamproc_file", str(spec)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=False,
    )
    shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0 or not out.exists():
        return Profile(failed=f"py-spy exited {done.returncode}: {done.stderr.strip()[-300:]}")
    profile = summarise(out.read_text())
    profile.raw = str(out)
    return profile
