"""What the pipeline needs of a source (Kafka, a file, the HTTP source's write-ahead log): the :class:`Source`
protocol and its assignment callbacks. The records a source returns are :mod:`streamproc.records`'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from streamproc.records import RecordChunk, TopicPartition

__all__ = ["Source", "OnAssigned", "OnRevoked"]


OnAssigned = Callable[[set[TopicPartition]], Awaitable[dict[TopicPartition, int | None]]]
"""Called with newly assigned partitions; returns the offset each must resume from (``None``: not known)."""
OnRevoked = Callable[[set[TopicPartition]], Awaitable[None]]
"""Called with revoked partitions before they move; must finish any in-flight load of them."""


@runtime_checkable
class Source(Protocol):
    """What the pipeline needs of a source (Kafka, file, HTTP write-ahead log).

    Lifecycle: :meth:`check` → :meth:`start` once → :meth:`fetch` / :meth:`commit` → :meth:`stop`; never used
    after stop.
    Offsets are per (topic, partition) and ascending; :meth:`commit` is called only after the records up to those
    offsets are durable in the lake, so a source may then forget them (acknowledge, delete a log segment).
    """

    bounded: bool
    """Whether the source ends (a file): the run then stops once it is exhausted and landed."""

    @property
    def source_uris(self) -> dict[str, str]:
        """topic → the ``_source`` lineage value (OpenLineage dataset namespace + name as one URI)."""
        ...

    async def check(self) -> None:
        """Raise now if the source cannot be read (a broker that does not answer, a missing file): the pipeline
        calls it before it creates or opens any table, so a run that cannot read leaves the lake as it was.

        Raises:
            SourceUnavailableError, SourceError: the source cannot be reached or read.
            ConfigError: the config names a source no reader takes (a file of no supported format).
        """
        ...

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None: ...

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The next records, a chunk per partition (``[]`` when none came within the timeout)."""
        ...

    def assignment(self) -> set[TopicPartition]: ...

    async def position(self, tp: TopicPartition) -> int: ...

    async def topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        """Every partition of the subscribed topics, whoever owns it, with its (first, end) offsets now: what
        ``--until-caught-up`` must see landed (a bounded source: once exhausted)."""
        ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    async def stop(self) -> None: ...
