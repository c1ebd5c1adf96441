"""Contestant 1: ``streamproc run`` on an NDJSON file (``source: file``) into Delta, in-process.

The config is written as YAML and read by :func:`streamproc.config.load_config`, as ``streamproc run`` does; the
pipeline's defaults apply (micro-batches of ``batch_rows``, by default streamproc's own 20,000), with the quarantine
table and ``_loads`` as always. Timed: the whole :meth:`Pipeline.run`, from opening the tables to the last commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Imports are not timed, for any contestant: the modules a run would import on first use are imported here, before
# the clock (the event loop's anyio backend, the file source, and numpy.ma, which pyarrow imports on the first
# ``pa.array`` of a NumPy array): ~40 ms that a 200k-event run would otherwise charge to streamproc's events/s.
import anyio
import anyio._backends._asyncio  # noqa: F401
import numpy.ma  # noqa: F401
import yaml

import streamproc.sources.file  # noqa: F401

from bench.contestants import clock, since
from streamproc.config import load_config
from streamproc.runtime.pipeline import Pipeline

__all__ = ["run", "write_config"]


def write_config(spec: dict[str, Any], source: dict[str, Any], *, batch: dict[str, Any] | None = None) -> Path:
    """A pipeline config for ``spec``'s data in its workdir; returns its path."""
    workdir = Path(spec["workdir"])
    data = spec["data"]
    config = {
        "name": f"bench_{data['name']}",
        "contract": data["contract"],
        "source": source,
        "sink": {"table_uri": str(workdir / "lake" / data["name"])},
        "batch": batch or {"max_rows": spec["batch_rows"]},
        "observability": {"enabled": False},
        "validation": {"workers": spec.get("validation_workers", 0)},
    }
    path = workdir / "pipeline.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def run(spec: dict[str, Any]) -> dict[str, Any]:
    config = load_config(write_config(spec, {"type": "file", "path": spec["data"]["path"]}))
    pipeline = Pipeline(config)
    started = clock()
    summary = anyio.run(pipeline.run)
    return {"events": summary.events, **since(started), "tables": summary.tables}
