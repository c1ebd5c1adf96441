"""The ``streamproc`` command starts no OpenBLAS threads: numpy's pool spins a core after import and streamproc never
calls BLAS (streamproc/cli/__init__.py). A user's own ``OPENBLAS_NUM_THREADS`` wins."""

from __future__ import annotations

import os
import subprocess
import sys

# OpenBLAS's workers keep the interpreter's thread name; other libraries name theirs (jemalloc_bg_thd, tokio-...).
_THREADS = (
    "import streamproc.cli, pyarrow as pa, numpy as np, os; pa.array(np.arange(3)); "
    "names = [open(f'/proc/self/task/{t}/comm').read() for t in os.listdir('/proc/self/task')]; "
    "print(names.count(open('/proc/self/comm').read()))"
)


def _threads_after_import(**env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env
    done = subprocess.run([sys.executable, "-c", _THREADS], env=environment, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_the_command_line_starts_no_blas_thread_pool() -> None:
    assert _threads_after_import() == 1


def test_a_users_own_openblas_setting_is_kept() -> None:
    assert _threads_after_import(OPENBLAS_NUM_THREADS="2") == 2
