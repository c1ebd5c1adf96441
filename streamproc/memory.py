"""Process-wide memory settings of a run: which allocator Arrow uses.

Measured on the file → Delta path (issue 8, ``bench/``, 200,000 orders events, same run): pyarrow's wheels allocate
through mimalloc by default, which keeps freed pages for reuse: every micro-batch's Arrow tables (validation, lineage
columns, the quarantine rows) leave ~25-30 MiB resident that the next batch does not need. The system allocator
(glibc malloc) hands them back: peak RSS 206 instead of 231 MiB with 10,000-row batches, 288 instead of 312-327 MiB
with 50,000, for the same CPU time. delta-rs allocates through Rust's allocator either way.

glibc's arena count (``mallopt(M_ARENA_MAX)``) was measured too and left alone: a run has four Python threads and
delta-rs's runtime; capping the arenas at 2 changed the peak by less than the run-to-run noise (±3 MiB).

Example::

    config = load_config("pipeline.yaml")
    apply_memory_config(config.memory)   # before the pipeline runs (``streamproc run`` does it)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from streamproc.config import MemoryConfig

__all__ = ["apply_memory_config", "use_arrow_memory_pool"]

logger = logging.getLogger(__name__)

_POOLS = {
    "system": pa.system_memory_pool,
    "mimalloc": pa.mimalloc_memory_pool,
    "jemalloc": pa.jemalloc_memory_pool,
}


def apply_memory_config(config: MemoryConfig) -> None:
    """Apply ``config`` to this process (idempotent; call it before the pipeline allocates its first batch)."""
    if config.arrow_memory_pool is not None:
        use_arrow_memory_pool(config.arrow_memory_pool)


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
