"""The contestants: each a module with ``run(spec) -> dict`` (see :mod:`bench.worker`).

A spec (JSON) has ``data`` (:class:`bench.generate.DataFile` as a dict), ``workdir`` (a fresh folder for this run's
tables), ``batch_rows`` (rows per Delta commit where the contestant lets us choose), and for the Kafka contestants
``kafka`` (``bootstrap_servers``, ``topic``). ``run`` returns at least ``events`` (input events processed) and
``seconds`` (wall time of the work alone) with ``cpu_seconds`` (CPU time of every thread of the process meanwhile:
steadier than wall time on a shared machine) and ``main_cpu_seconds`` (CPU time of the thread that timed the work,
the one that runs the event loop: the GIL-holding thread of a Kafka consumer, where librdkafka's own threads are not
counted), and ``tables`` (role → Delta table location) for the counts.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

__all__ = ["Clock", "load_model", "pages", "clock", "since"]


Clock = tuple[float, float, float]
"""(wall seconds, CPU seconds of the process, CPU seconds of the calling thread)."""


def clock() -> Clock:
    """Now, as (wall seconds, CPU seconds of this process, of this thread): a start for :func:`since`.

    Call both ends from the same thread (the main one, which runs the event loop): ``time.thread_time`` is the
    calling thread's own CPU time.
    """
    return time.perf_counter(), time.process_time(), time.thread_time()


def since(start: Clock) -> dict[str, float]:
    """``seconds``, ``cpu_seconds`` and ``main_cpu_seconds`` from ``start`` (:func:`clock`) to now."""
    wall, cpu, thread = clock()
    return {"seconds": wall - start[0], "cpu_seconds": cpu - start[1], "main_cpu_seconds": thread - start[2]}


def load_model(reference: str) -> Any:
    """The pydantic model named ``module:Class`` (a contract class)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def pages(path: str | Path, size: int) -> Iterator[list[bytes]]:
    """The file's lines (raw JSON events, newline stripped) in lists of ``size``."""
    with Path(path).open("rb") as handle:
        lines = (line.rstrip(b"\n") for line in handle)
        while page := list(islice(lines, size)):
            yield page
