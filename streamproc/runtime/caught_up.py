"""``--until-caught-up``: stop once every partition of the subscribed topics is landed up to the end offsets seen at
start, whichever member of the consumer group owns it.

A member owns only its share of the partitions. Judging "caught up" on its own assignment would let a backfill
report success while partitions held by other members (or by members killed moments earlier, which keep them until
their session expires) are not landed. So a member that has fetched its own partitions to their ends keeps running
until the Delta log (the source of truth: every table of the pipeline) shows the others landed too, saying whom it
waits for; when the broker reassigns a dead member's partitions to it, it lands them itself. If the run then ends
with a partition short of its end (it lost it in a rebalance after fetching it, say), :meth:`CaughtUp.verify`
raises :class:`~streamproc.errors.NotCaughtUpError` naming it: the run did not finish.

A bounded source (a file) has no end offsets before it is read: its end is where it is exhausted.
"""

from __future__ import annotations

import logging
import time

from streamproc.errors import NotCaughtUpError
from streamproc.runtime.ownership import PartitionOwnership
from streamproc.records import TopicPartition
from streamproc.sources.base import Source

__all__ = ["CaughtUp"]

logger = logging.getLogger(__name__)

_LANDED_EVERY_SECONDS = 2.0
"""How often the Delta log is read for partitions other members own (each read refreshes every table's log)."""
_EXPLAIN_EVERY_SECONDS = 15.0


class CaughtUp:
    """Whether a run has landed everything up to the end offsets seen at start (see the module docstring).

    Args:
        source: the run's source (its partitions, their offsets, this member's position).
        ownership: this member's partitions, and the Delta log's positions of the others.
        group: the consumer group, for the messages.
        session_timeout_seconds: after which the broker reassigns a dead member's partitions, for the messages.
    """

    def __init__(
        self,
        source: Source,
        ownership: PartitionOwnership,
        *,
        group: str,
        session_timeout_seconds: float | None = None,
    ) -> None:
        self.source = source
        self.ownership = ownership
        self.group = group
        self.session_timeout_seconds = session_timeout_seconds
        self.targets: dict[TopicPartition, tuple[int, int]] | None = None
        self._landed: dict[TopicPartition, int | None] = {}
        self._landed_at = 0.0
        self._explained_at = 0.0

    async def start(self) -> None:
        """Take the end offsets of every partition of the subscribed topics (an unbounded source: now, at start)."""
        if not self.source.bounded:
            self.targets = await self.source.topic_offsets() or None  # no partition yet: once some are assigned
            if self.targets is not None:
                logger.info("running until caught up with the end offsets seen at start: %s", _describe_ends(self.targets))

    async def reached(self) -> bool:
        """Whether everything is landed or fetched up to the ends (call it when a fetch came back empty): this
        member's partitions fetched to their ends, every other partition landed to its end by whoever owns it."""
        own = self.source.assignment()
        if self.targets is None:
            if not own and not self.source.bounded:
                return False  # the topics had no partition at start: wait for an assignment
            self.targets = await self.source.topic_offsets()  # a bounded source: exhausted now
        for tp in own:
            if tp in self.targets and await self.source.position(tp) < self.targets[tp][1]:
                return False
        others = {tp for tp in self.targets if tp not in own and _has_records(self.targets[tp])}
        if others:
            if time.monotonic() - self._landed_at >= _LANDED_EVERY_SECONDS:
                self._landed = await self.ownership.landed(others)
                self._landed_at = time.monotonic()
            behind = {tp: self._landed.get(tp) for tp in others if (self._landed.get(tp) or 0) < self.targets[tp][1]}
            if behind:
                self._explain(own, behind)
                return False
        logger.info("caught up with the end offsets seen at start: %s", _describe_ends(self.targets))
        return True

    async def verify(self) -> None:
        """After the last load: every partition is landed up to its end according to the Delta log.

        Raises:
            NotCaughtUpError: naming the partitions short of their ends.
        """
        if self.targets is None:
            return
        wanted = {tp for tp, bounds in self.targets.items() if _has_records(bounds)}
        landed = await self.ownership.landed(wanted) if wanted else {}
        behind = {tp: landed.get(tp) for tp in wanted if (landed.get(tp) or 0) < self.targets[tp][1]}
        if behind:
            raise NotCaughtUpError(
                "stopped before every partition was landed up to the end offsets seen at start: "
                + ", ".join(
                    f"{tp.topic}[{tp.partition}] landed up to {'nothing' if at is None else at} of "
                    f"{self.targets[tp][1]}"
                    for tp, at in sorted(behind.items())
                )
                + "; run it again to land the rest",
                behind={(tp.topic, tp.partition): (at, self.targets[tp][1]) for tp, at in behind.items()},
            )

    def _explain(self, own: set[TopicPartition], behind: dict[TopicPartition, int | None]) -> None:
        """Say, now and then, why this member sits idle: other members own partitions not landed yet."""
        if time.monotonic() - self._explained_at < _EXPLAIN_EVERY_SECONDS:
            return
        self._explained_at = time.monotonic()
        assert self.targets is not None  # noqa: S101 - set before any check
        expiry = (
            f" after their session expires (session_timeout_seconds: {self.session_timeout_seconds:g})"
            if self.session_timeout_seconds is not None
            else ""
        )
        logger.warning(
            "caught up with %s; waiting for %s, owned by other members of consumer group %s: they land them, or, if "
            "they were killed, the broker reassigns their partitions%s and this member lands them",
            ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(own)) or "no partition of its own",
            ", ".join(
                f"{tp.topic}[{tp.partition}] (landed up to {'nothing' if at is None else at} of {self.targets[tp][1]})"
                for tp, at in sorted(behind.items())
            ),
            self.group,
            expiry,
        )


def _has_records(bounds: tuple[int, int]) -> bool:
    start, end = bounds
    return end > start


def _describe_ends(targets: dict[TopicPartition, tuple[int, int]]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{end}" for tp, (_, end) in sorted(targets.items()))
