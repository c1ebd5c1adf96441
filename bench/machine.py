"""What the numbers were measured on: the machine, its load, and the versions of everything in the race."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

from bench.kafka import KAFKA_VERSION

__all__ = ["machine_info", "versions", "load_average"]

_PACKAGES = ("pydantic", "pydantic-core", "pyarrow", "deltalake", "aiokafka", "anyio")


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def machine_info() -> dict[str, Any]:
    """CPUs, CPU model, memory, OS and the time."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def versions(repo: Path, *, dlt_version: str | None) -> dict[str, str]:
    """streamproc's commit and the versions of the libraries, dlt and the Kafka broker."""
    found = {"streamproc": _git_revision(repo)}
    for package in _PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["dlt"] = dlt_version or "not run"
    found["kafka broker"] = f"Apache Kafka {KAFKA_VERSION} (single node, KRaft, loopback)"
    return found


def _git_revision(repo: Path) -> str:
    """HEAD, and the files of the code in the race (contracts/, streamproc/) that differ from it: the tree is
    shared, and what ran is what was on disk."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "contracts", "streamproc"], cwd=repo,
                                capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = sorted(line[3:] for line in status if line.endswith(".py"))
    if not changed:
        return head
    return f"{head} + uncommitted changes in the shared tree to {', '.join(f'`{c}`' for c in changed)}"
