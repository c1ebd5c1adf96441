"""Issue 19's baseline (:mod:`.streamproc_kafka_baseline`: the code of dcadf6b) with ``OPENBLAS_NUM_THREADS=1``, as
today's command and bench worker set it: what the old code measures without numpy's OpenBLAS threads spinning after
the import. For comparison only; the target compares with the old code as it ran.
"""

from __future__ import annotations

from typing import Any

from bench.contestants.streamproc_kafka_baseline import run as run_baseline

__all__ = ["run"]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    return run_baseline(spec, openblas_one_thread=True)
