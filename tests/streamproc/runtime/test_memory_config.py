"""``memory:``: which allocator pyarrow uses and glibc's mmap threshold in a ``streamproc run`` (see
:mod:`streamproc.runtime.memory`)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamproc.config import load_config
from streamproc.errors import ConfigError
from streamproc.runtime.memory import use_arrow_memory_pool
from tests.fixtures.pipelines import REPO, write_file_pipeline

# Runs the CLI in this interpreter, then prints pyarrow's default pool and whether glibc still raises its mmap
# threshold: once a 4 MiB mapped block is freed, a dynamic threshold serves a 512 KiB block from the [heap].
_DRIVER = """
import ctypes, json, sys
import pyarrow as pa
from streamproc.cli import cli
cli.main(["--log-level", "WARNING", "run", sys.argv[1], "--json"], standalone_mode=False)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
libc.free(libc.malloc(4 << 20))
block = libc.malloc(512 << 10)
heap = [line.split()[0] for line in open("/proc/self/maps") if line.rstrip().endswith("[heap]")]
low, high = (int(x, 16) for x in heap[0].split("-"))
print(json.dumps({"pool": pa.default_memory_pool().backend_name, "mapped": not low <= block < high}))
"""


def _env() -> dict[str, str]:
    """This environment without pyarrow's and glibc's own switches, with the repository importable."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL" and not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(tmp_path: Path, **sections: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    path = write_file_pipeline(tmp_path, events=300, name="memory", observability={"enabled": False}, **sections)
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(path)], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    *_, summary, allocation = done.stdout.strip().splitlines()
    return json.loads(summary), json.loads(allocation)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_a_run_allocates_with_the_system_allocator_and_a_fixed_mmap_threshold_by_default(tmp_path: Path) -> None:
    summary, allocation = _run(tmp_path)

    assert summary["rows_landed"] == 300
    assert allocation == {"pool": "system", "mapped": True}


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_null_keeps_pyarrows_pool_and_glibcs_dynamic_threshold(tmp_path: Path) -> None:
    builds_default = subprocess.run(
        [sys.executable, "-c", "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"],
        env=_env(), capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()

    summary, allocation = _run(tmp_path, memory={"arrow_memory_pool": None, "malloc_mmap_threshold_bytes": None})

    assert summary["rows_landed"] == 300
    assert allocation["pool"] == builds_default != "system"  # pyarrow's wheels default to mimalloc (or jemalloc)
    assert allocation["mapped"] is False


def test_an_unknown_pool_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown Arrow memory pool 'tcmalloc'"):
        use_arrow_memory_pool("tcmalloc")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "memory",
                "contract": "tests.fixtures.order_contracts:Order",
                "source": {"type": "file", "path": "orders.ndjson"},
                "sink": {"table_uri": "lake/orders"},
                "memory": {"arrow_memory_pool": "tcmalloc"},
            }
        )
    )
    with pytest.raises(ConfigError, match="memory.arrow_memory_pool"):
        load_config(path)
