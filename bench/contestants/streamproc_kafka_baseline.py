"""Issue 19's baseline in the same run: streamproc Kafka → Delta as it was when the issue was filed (dcadf6b, the
aiokafka source, before any of issue 19's work), timed exactly as that commit's bench timed it.

The issue asks for the best client's Kafka → Delta at twice "today's" events/s. Comparing with a number from an
older report mixes two runs on a shared machine; this contestant re-runs the old code beside today's. That commit's
``streamproc``, ``contracts`` and ``bench`` packages are extracted once with ``git archive`` into
``var/bench-baseline/<commit>`` (outside the package, ignored by git) and its own ``bench.worker`` runs its own
``streamproc_kafka`` contestant on this run's spec (the spec's shape has not changed since), under this venv. Only the
orders dataset: the other datasets' contracts are newer than that commit.

The old code runs as it ran then: without ``OPENBLAS_NUM_THREADS=1``, which neither its ``streamproc`` command nor
its bench worker set (today's command sets it, and today's worker sets it for every contestant). numpy's OpenBLAS
threads then spin ~0.1 CPU-s after the import, a fixed cost per process that overlaps the first second of the timed
work on two cores. :mod:`.streamproc_kafka_baseline_openblas` runs the same old code with the variable set, to show
how much of the difference that fixed cost is.

Peak RSS is this small launcher's plus the old worker's (the largest waited-for child), as for dlt's normalize
workers. Raises ``RuntimeError`` when the repository has no history to extract from (a shallow clone) or the old
worker fails.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

__all__ = ["BASELINE_COMMIT", "run", "source_tree"]

BASELINE_COMMIT = "dcadf6b1f722be5bd6133e1a542f2c87eb76d6a0"
_PACKAGES = ("streamproc", "contracts", "bench")
_REPO = Path(__file__).resolve().parents[2]


def source_tree(commit: str = BASELINE_COMMIT) -> Path:
    """The old commit's packages, extracted once into ``var/bench-baseline/<commit>``; returns the folder."""
    tree = _REPO / "var" / "bench-baseline" / commit
    done = tree / ".extracted"
    if done.exists():
        return tree
    archive = subprocess.run(["git", "-C", str(_REPO), "archive", "--format=tar", commit, *_PACKAGES],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise RuntimeError(f"cannot extract issue 19's baseline {commit[:7]} from git (a shallow clone?): "
                           f"{archive.stderr.decode(errors='replace').strip()}")
    tree.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    done.touch()
    return tree


def run(spec: dict[str, Any], *, openblas_one_thread: bool = False) -> dict[str, Any]:
    tree = source_tree()
    spec_path = Path(spec["workdir"]) / "baseline-spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if not openblas_one_thread:
        env.pop("OPENBLAS_NUM_THREADS", None)
    done = subprocess.run([sys.executable, "-m", "bench.worker", "streamproc_kafka", str(spec_path)],
                          cwd=tree, env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        payload: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"the baseline's worker exited {done.returncode}: {done.stderr.strip()[-500:]}") from None
    if "failed" in payload:
        raise RuntimeError(f"the baseline failed: {payload['failed']} | {done.stderr.strip()[-300:]}")
    payload.pop("peak_rss_bytes", None)
    return payload
