"""How a run behaves: batching, validation workers, memory, metrics and probes, lineage, table maintenance."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from streamproc.config.base import Frozen, RelativeToConfig

__all__ = ["BatchConfig", "ValidationConfig", "MemoryConfig", "ObservabilityConfig", "LineageConfig",
           "MaintenanceConfig"]


class BatchConfig(Frozen):
    """When a micro-batch closes: whichever limit is reached first; and how much is fetched ahead of it.

    The defaults trade memory against the fixed cost of a load (three Delta commits and their log reads, ~25 ms of
    CPU). A batch is held at once as payloads, decoded values and its Arrow tables while it is validated and written
    (and the next one is prepared meanwhile), so peak RSS grows with ``max_rows``. Measured by ``bench/`` (issue 8)
    on 200,000 orders events of ~176 bytes, ``queue_size`` 2, the ``memory`` defaults, 3 interleaved runs each:

    ==========  ==========================  ===========================
    max_rows    file → Delta: RSS, CPU      Kafka → Delta: RSS, events/s
    ==========  ==========================  ===========================
    50,000      245-259 MiB, 0.83-0.97 s    263-268 MiB, 155-169k
    20,000      224-226 MiB, 0.97-1.08 s    227 MiB, 138-155k
    10,000      211 MiB, 1.24-1.28 s        210-212 MiB, 98-119k
    ==========  ==========================  ===========================

    20,000 keeps most of the saving for ~10-15 % of the throughput; set 10,000 where memory is tight (~15 MiB less
    for ~25 % more CPU), 50,000 for throughput. Every fetched chunk queued ahead (up to
    ``source.fetch_max_records`` events each) is held too: a queue of 2 instead of 8 saved ~14 MiB with 10,000-row
    batches and ~25 MiB with 50,000 at the same speed, one chunk being batched while the next is read (aiokafka
    keeps prefetching from the broker on its own). Raise ``max_rows`` (and ``max_linger_seconds``) for fewer, larger
    files when memory is plentiful, e.g. on object stores where each commit costs more.
    """

    max_rows: int = Field(20_000, gt=0, description="events per micro-batch")
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="payload bytes per micro-batch")
    max_linger_seconds: float = Field(5.0, gt=0, description="seconds from a batch's first event to its close")
    queue_size: int = Field(2, gt=0, description="fetched chunks buffered between consumer and batcher")


class ValidationConfig(Frozen):
    """Where micro-batches are validated (:mod:`streamproc.validation.pool`).

    In the pipeline's own process (``workers: 0``, the default), validation and consuming take turns on one core: both
    hold Python's GIL. With ``workers: 1`` each batch is validated in a worker process, on another core, while the
    event loop keeps consuming; the pipeline's process then only pays the transfer of the payloads and verdicts. Worth
    it with two or more free cores and a Kafka source running near its consumer's speed (see bench/RESULTS.md); it
    costs a second interpreter (~100 MiB resident) and 0.4-1.2 s to start it.
    """

    workers: int = Field(0, ge=0, le=8, description="validation worker processes (0: validate in-process)")
    start_method: Literal["spawn", "forkserver"] = Field(
        "spawn", description="how workers start (never fork: it would copy the event loop and consumer sockets)"
    )


class MemoryConfig(Frozen):
    """Process-wide memory settings, applied by ``streamproc run`` (see :mod:`streamproc.runtime.memory` for the
    measurements behind the defaults)."""

    arrow_memory_pool: Literal["system", "mimalloc", "jemalloc"] | None = Field(
        "system",
        description="pyarrow's allocator: system (glibc malloc) returns each batch's memory, pyarrow's default "
        "mimalloc kept ~25 MiB more resident; null keeps pyarrow's own default (ARROW_DEFAULT_MEMORY_POOL)",
    )
    malloc_mmap_threshold_bytes: int | None = Field(
        128 * 1024,
        ge=0,
        le=32 * 1024 * 1024,
        description="glibc malloc's M_MMAP_THRESHOLD, fixed: larger blocks are mapped and given back when freed "
        "(~10 MiB less peak than glibc's self-raising threshold); null keeps glibc's (MALLOC_MMAP_THRESHOLD_)",
    )


def _observability_host_from_environment() -> str:
    return os.environ.get("STREAMPROC_OBSERVABILITY_HOST") or "127.0.0.1"


class ObservabilityConfig(Frozen):
    """The process's HTTP endpoint for Prometheus and probes: ``/metrics``, ``/healthz`` (alive), ``/readyz``
    (joined the consumer group, storage writable). See :mod:`streamproc.observe.endpoint`."""

    enabled: bool = Field(True, description="serve /metrics, /healthz and /readyz")
    host: str = Field(
        default_factory=_observability_host_from_environment,
        description="interface to listen on; default: $STREAMPROC_OBSERVABILITY_HOST, else 127.0.0.1 (loopback "
        "only: the image sets 0.0.0.0 for Prometheus to scrape the pod's address)",
    )
    port: int = Field(9108, ge=0, le=65535, description="TCP port (0: any free port, logged at start)")
    lag_interval_seconds: float = Field(5.0, gt=0, description="how often consumer lag per partition is sampled")


class LineageConfig(Frozen):
    """OpenLineage events for the run (see :mod:`streamproc.observe.openlineage.observer`).

    Where events go is openlineage-python's own configuration (``openlineage.yml``, ``OPENLINEAGE_URL``,
    ``OPENLINEAGE__TRANSPORT__*``): http (the catalog, Marquez), file, console, kafka. With none of them naming a
    transport, a run that enables lineage is refused (:mod:`streamproc.observe.openlineage.transport`). Events wait
    in a durable outbox until the transport takes them.
    """

    enabled: bool = Field(False, description="emit OpenLineage events (START, RUNNING per load, COMPLETE/FAIL)")
    namespace: str = Field("streamproc", min_length=1, description="the job's OpenLineage namespace")
    emit: Literal["per_load", "every_n_seconds"] = Field(
        "per_load", description="a RUNNING event per load, or at most one per every_seconds summarising the loads"
    )
    every_seconds: float = Field(60.0, gt=0, description="with emit: every_n_seconds, the least seconds between them")
    outbox_dir: RelativeToConfig | None = Field(
        None, description="where undelivered events wait (default: _lineage_outbox beside a local table)"
    )
    flush_timeout_seconds: float = Field(
        5.0,
        ge=0,
        description="at stop, how long to try delivering what is pending (the rest stays in the outbox); added to "
        "shutdown_grace_seconds, so keep both within Kubernetes' terminationGracePeriodSeconds",
    )
    retry_max_seconds: float = Field(60.0, gt=0, description="longest wait between delivery attempts")


class MaintenanceConfig(Frozen):
    """Background upkeep of the table, its quarantine table and ``_loads`` (see :mod:`streamproc.sinks.maintenance`)."""

    enabled: bool = Field(True, description="run compaction, checkpoints and vacuum in the background")
    interval_seconds: float = Field(60.0, gt=0, description="how often the tables are checked")
    compact_min_files: int = Field(50, ge=1, description="compact a table once it has this many small files")
    target_file_size_bytes: int | None = Field(
        None, gt=0, description="compacted file size (default: the table's delta.targetFileSize, else 100 MiB)"
    )
    checkpoint: bool = Field(True, description="checkpoint and clean up expired log entries after a compaction")
    vacuum_interval_seconds: float = Field(86_400.0, gt=0, description="how often unreferenced files are deleted")
    vacuum_retention_hours: int = Field(
        168,
        ge=0,
        description="keep unreferenced files this long (time travel; other writers' uncommitted files): keep it "
        "well above the longest commit",
    )
