"""The ``/readyz`` checks: whether a run should receive traffic (Kubernetes readiness), kept current by its hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from streamproc.observe.observer import PipelineObserver, RunInfo
from streamproc.observe.summary import RunSummary
from streamproc.records import TopicPartition

__all__ = ["AllReady", "Readiness", "ReadinessChecks"]


class ReadinessChecks(Protocol):
    """What ``/readyz`` reads (:func:`streamproc.observe.endpoint.create_app`)."""

    @property
    def ready(self) -> bool: ...

    @property
    def partitions(self) -> set[TopicPartition]: ...

    def checks(self) -> dict[str, bool]: ...


@dataclass
class Readiness(PipelineObserver):
    """One pipeline's ``/readyz`` checks, kept current by the run's hooks.

    Attributes:
        joined: the consumer joined its group (``on_assigned`` was called, possibly with no partitions).
        storage_writable: the tables opened and the last load committed (``False`` from a storage retry until the
            next successful load).
        stopping: the run is ending (``on_stop``).
        partitions: the partitions it owns.
    """

    joined: bool = False
    storage_writable: bool = False
    stopping: bool = False
    partitions: set[TopicPartition] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.joined and self.storage_writable and not self.stopping

    def checks(self) -> dict[str, bool]:
        return {"joined": self.joined, "storage_writable": self.storage_writable, "running": not self.stopping}

    async def on_start(self, run: RunInfo) -> None:
        self.storage_writable = True

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        self.joined = True
        self.partitions |= partitions

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        self.partitions -= partitions

    async def on_load(self, outcome: object, batch: object) -> None:
        self.storage_writable = True

    async def on_storage_retry(self, error: BaseException, attempt: int) -> None:
        self.storage_writable = False

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        self.stopping = True


class AllReady:
    """``/readyz`` over several pipelines (the HTTP source's targets): ready when each is and every extra check
    passes (e.g. the HTTP endpoint accepts requests)."""

    def __init__(self, readiness: Sequence[Readiness], *, extra: Mapping[str, Callable[[], bool]] | None = None) -> None:
        self._readiness = tuple(readiness)
        self._extra = dict(extra or {})

    @property
    def ready(self) -> bool:
        return all(r.ready for r in self._readiness) and all(check() for check in self._extra.values())

    @property
    def partitions(self) -> set[TopicPartition]:
        return set().union(*(r.partitions for r in self._readiness))

    def checks(self) -> dict[str, bool]:
        return {
            "joined": all(r.joined for r in self._readiness),
            "storage_writable": all(r.storage_writable for r in self._readiness),
            "running": not any(r.stopping for r in self._readiness),
            **{name: check() for name, check in self._extra.items()},
        }
