"""Process-wide memory settings of a run: which allocator Arrow uses, and when glibc's malloc maps large blocks.

Measured on the file → Delta path (issue 8, ``bench/``, 200,000 orders events, same run):

- **Arrow's memory pool.** pyarrow's wheels allocate through mimalloc by default, which keeps freed pages for
  reuse: every micro-batch's Arrow tables (validation, lineage columns, the quarantine rows) leave ~25-45 MiB
  resident that the next batch does not need. The system allocator (glibc malloc) hands them back: peak RSS 206
  instead of 231 MiB with 10,000-row batches, 248 instead of 295 MiB with 20,000, for the same CPU time.
- **glibc's mmap threshold.** glibc serves blocks above ``M_MMAP_THRESHOLD`` (128 KiB at start) with their own
  mapping, returned to the system when freed; but each such free raises the threshold to the block's size (up to
  32 MiB), so from the first freed batch on, Arrow buffers and delta-rs's write buffers come from the heaps, whose
  free space stays resident. Fixing the threshold (``mallopt``, which turns the raising off) took 9-12 MiB off the
  peak (250-253 instead of 261-263 MiB) for ~4 % more CPU time (mmap/munmap system calls).

Measured and left alone: capping glibc's arenas (``M_ARENA_MAX`` 2; a run has four Python threads and delta-rs's
runtime) and ``malloc_trim(0)`` after every load both moved the peak by less than the run-to-run noise (±5 MiB).
delta-rs's ``WriterProperties`` (row group size, write batch size, compression) did not either: a batch is written
as one in-memory file whatever its row groups.

Example::

    config = load_config("pipeline.yaml")
    apply_memory_config(config.memory)   # before the pipeline runs (Pipeline.run does it)
"""

from __future__ import annotations

import ctypes
import logging
import platform
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from streamproc.config import MemoryConfig

__all__ = ["apply_memory_config", "use_arrow_memory_pool", "set_malloc_mmap_threshold"]

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>

_POOLS = {
    "system": pa.system_memory_pool,
    "mimalloc": pa.mimalloc_memory_pool,
    "jemalloc": pa.jemalloc_memory_pool,
}


def apply_memory_config(config: MemoryConfig) -> None:
    """Apply ``config`` to this process (idempotent; call it before the pipeline allocates its first batch)."""
    if config.arrow_memory_pool is not None:
        use_arrow_memory_pool(config.arrow_memory_pool)
    if config.malloc_mmap_threshold_bytes is not None:
        set_malloc_mmap_threshold(config.malloc_mmap_threshold_bytes)


def use_arrow_memory_pool(name: str) -> None:
    """Make ``name`` (``system``, ``mimalloc`` or ``jemalloc``) pyarrow's default memory pool.

    Buffers allocated before keep their own pool. A pool this pyarrow build lacks is logged and the default kept:
    an allocator is never a reason not to land.

    Raises:
        ValueError: ``name`` is not one of the three.
    """
    try:
        factory = _POOLS[name]
    except KeyError:
        raise ValueError(f"unknown Arrow memory pool {name!r}: expected one of {', '.join(_POOLS)}") from None
    try:
        pool = factory()
    except NotImplementedError as exc:  # jemalloc/mimalloc are optional in Arrow builds
        logger.warning("Arrow memory pool %s is not available (%s); keeping %s", name, exc,
                       pa.default_memory_pool().backend_name)
        return
    pa.set_memory_pool(pool)


def set_malloc_mmap_threshold(size_bytes: int) -> bool:
    """Fix glibc malloc's ``M_MMAP_THRESHOLD`` at ``size_bytes`` (see the module docstring): blocks of that size and
    more get their own mapping, given back when freed, for the rest of the process.

    Returns:
        Whether it was set: ``False`` (logged) where the C library is not glibc (musl, macOS) or refused the value
        (glibc's maximum is 32 MiB on 64-bit).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        logger.info("not setting M_MMAP_THRESHOLD: the C library is not glibc")
        return False
    mallopt = ctypes.CDLL("libc.so.6").mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if mallopt(_M_MMAP_THRESHOLD, size_bytes) != 1:
        logger.warning("glibc refused M_MMAP_THRESHOLD=%d; keeping its dynamic threshold", size_bytes)
        return False
    return True
