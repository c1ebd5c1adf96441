"""``streamproc run`` imports only what its config enables (issue 8: peak RSS).

Every module a run never uses still costs resident memory for the whole run (aiokafka ~6 MiB, uvicorn + Starlette
~6 MiB, the OpenLineage client with requests/httpx ~15 MiB), so a file → Delta run must not import the Kafka client,
the HTTP server or the lineage transports. Each case is a real run of the real CLI in its own interpreter, into real
Delta tables, that reports the top-level packages it ended with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streamproc.sinks.reader import read_table
from tests.fixtures.lineage import file_transport_env
from tests.fixtures.pipelines import REPO, write_file_pipeline

# Runs the CLI in this interpreter, then prints the top-level packages it imported as the last stdout line.
_DRIVER = """
import json, sys
from streamproc.cli import cli
cli.main(["--log-level", "WARNING", "run", sys.argv[1], "--json"], standalone_mode=False)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

_NEVER_FOR_A_FILE = {"aiokafka", "catalog", "sqlalchemy", "fastapi", "rich"}
_ENDPOINT = {"uvicorn", "starlette"}
_LINEAGE = {"openlineage", "requests"}


def _run(tmp_path: Path, **sections: Any) -> tuple[dict[str, Any], set[str]]:
    path = write_file_pipeline(tmp_path, events=200, name="imports", **sections)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(file_transport_env(tmp_path / "lineage.ndjson"))
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *_, summary, modules = done.stdout.strip().splitlines()
    return json.loads(summary), set(json.loads(modules))


def test_a_file_run_without_endpoint_or_lineage_imports_neither_nor_the_kafka_client(tmp_path: Path) -> None:
    summary, modules = _run(tmp_path, observability={"enabled": False})

    assert summary["rows_landed"] == 200
    assert read_table(str(tmp_path / "lake" / "orders")).num_rows == 200
    assert modules & (_NEVER_FOR_A_FILE | _ENDPOINT | _LINEAGE) == set()
    assert {"pyarrow", "deltalake", "pydantic"} <= modules


@pytest.mark.parametrize(
    ("sections", "imported"),
    [
        ({"observability": {"enabled": True, "host": "127.0.0.1", "port": 0}}, _ENDPOINT),
        ({"observability": {"enabled": False}, "lineage": {"enabled": True}}, _LINEAGE),
    ],
    ids=["endpoint", "lineage"],
)
def test_what_the_config_enables_is_imported_and_works(
    tmp_path: Path, sections: dict[str, Any], imported: set[str]
) -> None:
    summary, modules = _run(tmp_path, **sections)

    assert summary["rows_landed"] == 200
    assert imported <= modules
    assert modules & _NEVER_FOR_A_FILE == set()
    if "lineage" in sections:  # the lazily imported observer really emitted the run's events
        kinds = [json.loads(line)["eventType"] for line in (tmp_path / "lineage.ndjson").read_text().splitlines()]
        assert kinds[0] == "START" and kinds[-1] == "COMPLETE"
