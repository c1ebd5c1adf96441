"""The Faust source: a Faust agent's stream as a :class:`~streamproc.sources.base.Source` for the pipeline.

Faust owns the consumer (its own aiokafka consumer, in its own thread); this source takes the events its agent's
stream hands over and speaks the pipeline's protocol:

* **fetch** returns the events the agent's stream delivered (raw value and key, Kafka coordinates), keeping each
  event to acknowledge it later;
* **commit** is called by the pipeline after the Delta commits of a load: it acknowledges the load's events, and
  Faust commits their offsets to Kafka (for lag tools), never past what is landed;
* **rebalances**: Faust's ``on_partitions_revoked`` signal becomes the pipeline's ``on_revoked`` (an in-flight load
  finishes, the buffered events of those partitions are dropped unacknowledged). After every rebalance Faust sends
  ``on_rebalance_complete`` and then seeks each assigned partition to the group's committed offset
  (``Consumer.perform_seek``) before fetching resumes. The source answers that signal, which Faust awaits: the
  pipeline's ``on_assigned`` reads the positions from the Delta log, and the source commits them as the group's
  offsets, so Faust seeks there. **The Delta log, not Kafka, says where a worker resumes**, as in ``streamproc run``;
  a partition the Delta log does not know keeps the group's offset, else ``consumer_auto_offset_reset``.

Faust offers no public call to commit given offsets (``Consumer.commit`` commits what streams acknowledged), so
:func:`commit_offsets` uses the consumer's ``_commit``; faust-streaming 0.15.3 is the version tested.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import anyio
import faust
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from faust.types import TP, EventT, StreamT

from streamproc.config import KafkaSourceConfig
from streamproc.errors import SourceError
from streamproc.faust.settings import source_record
from streamproc.records import RecordChunk, TopicPartition
from streamproc.sources.base import OnAssigned, OnRevoked
from streamproc.sources.kafka import kafka_source_uri

__all__ = ["FaustSource", "commit_offsets"]

logger = logging.getLogger(__name__)


async def commit_offsets(app: faust.App, offsets: dict[TopicPartition, int]) -> bool:
    """Commit next-offsets of partitions the app's consumer owns, as the app's consumer group.

    Returns:
        ``False`` when Kafka refused the commit because the group is rebalancing again (the next
        ``on_rebalance_complete`` commits anew); ``True`` otherwise.
    """
    if not offsets:
        return True
    faust_offsets = {TP(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
    committed: bool = await app.consumer._commit(faust_offsets)  # noqa: SLF001 - see the module docstring
    return committed


class FaustSource:
    """The events of one Faust agent's stream, for one :class:`~streamproc.runtime.pipeline.Pipeline`.

    Construct it before the worker starts (it connects to the app's rebalance signals); then :meth:`pump` the
    agent's ``stream.noack()`` beside the pipeline's run. Lifecycle as the Source protocol says: :meth:`start` once
    → :meth:`fetch` / :meth:`commit` → :meth:`stop`; not reusable.

    Until the pipeline has started the source (its tables open), ``on_rebalance_complete`` waits: Faust does not
    seek or fetch before the Delta log's positions are known.
    """

    bounded = False

    def __init__(self, app: faust.App, config: KafkaSourceConfig) -> None:
        self.app = app
        self.config = config
        self._on_assigned: OnAssigned | None = None
        self._on_revoked: OnRevoked | None = None
        self._started = asyncio.Event()
        self._stopped = False
        self._held: dict[TopicPartition, list[EventT]] = {}  # fetched, not yet acknowledged
        self._send: MemoryObjectSendStream[EventT] | None = None
        self._receive: MemoryObjectReceiveStream[EventT] | None = None
        app.on_partitions_revoked.connect(self._faust_partitions_revoked)
        app.on_rebalance_complete.connect(self._faust_rebalance_complete)

    @property
    def source_uris(self) -> dict[str, str]:
        """topic → ``kafka://host:port/topic``, as for the Kafka source."""
        return {t: kafka_source_uri(self.config.bootstrap_servers, t) for t in self.config.topics}

    async def pump(self, stream: StreamT) -> None:
        """Hand the events of ``stream`` (the agent's ``stream.noack()``) to :meth:`fetch`; returns when the stream
        ends. Bounded by ``fetch_max_records``: a slow lake backs up into Faust's flow control."""
        if self._send is not None:
            raise SourceError("a FaustSource pumps one stream")
        self._send, self._receive = anyio.create_memory_object_stream[EventT](self.config.fetch_max_records)
        async with self._send:
            async for event in stream.events():
                await self._send.send(event)

    async def check(self) -> None:
        """Nothing to check: Faust's app owns the connection to Kafka."""

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        """Take the pipeline's rebalance callbacks; Faust's next ``on_rebalance_complete`` uses them."""
        if self._on_assigned is not None or self._stopped:
            raise SourceError("a FaustSource can be started once")
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        self._started.set()

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The events the stream delivered, up to ``fetch_max_records`` (possibly none within the timeout)."""
        receive = self._receive
        if receive is None:
            await anyio.sleep(timeout_seconds)  # the pump has not started yet
            return []
        events: list[EventT] = []
        with anyio.move_on_after(timeout_seconds):
            try:
                events.append(await receive.receive())
            except anyio.EndOfStream:
                return []
        while events and len(events) < self.config.fetch_max_records:
            try:
                events.append(receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        records = []
        for event in events:
            record = source_record(event.message)
            self._held.setdefault(record.topic_partition, []).append(event)
            records.append(record)
        return RecordChunk.of(records)

    def assignment(self) -> set[TopicPartition]:
        """The partitions of the config's topics Faust's consumer owns now."""
        topics = set(self.config.topics)
        return {TopicPartition(tp.topic, tp.partition) for tp in self.app.consumer.assignment() if tp.topic in topics}

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record Faust's consumer fetches for ``tp``."""
        position = await self.app.consumer.position(TP(tp.topic, tp.partition))
        if position is None:
            raise SourceError(f"{tp.topic}[{tp.partition}] has no position yet")
        return position

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's high watermark as of the last fetch (no request); ``None`` before one."""
        return self.app.consumer.highwater(TP(tp.topic, tp.partition))

    async def topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        """The assigned partitions (Faust shares its consumer with the app's other agents) from their current
        positions to their high watermarks."""
        assigned = self.assignment()
        ends = await self.app.consumer.highwaters(*(TP(tp.topic, tp.partition) for tp in assigned))
        return {
            TopicPartition(tp.topic, tp.partition): (await self.position(TopicPartition(tp.topic, tp.partition)), end)
            for tp, end in ends.items()
        }

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """The records below these next-offsets are durable in the lake: acknowledge their events, so that Faust
        commits the offsets to Kafka. Events of partitions this worker no longer owns are dropped."""
        owned = self.assignment()
        for tp, next_offset in offsets.items():
            held = self._held.pop(tp, None)
            if not held or tp not in owned:
                continue
            kept = []
            for event in held:
                if event.message.offset < next_offset:
                    event.ack()
                else:
                    kept.append(event)
            if kept:
                self._held[tp] = kept

    async def stop(self) -> None:
        """Forget the events not acknowledged (Faust's consumer stays: the app owns it). Idempotent."""
        self._stopped = True
        self._held.clear()
        if self._receive is not None:
            self._receive.close()

    async def _faust_partitions_revoked(self, sender: faust.App, revoked: set[Any], **_: Any) -> None:
        topics = set(self.config.topics)
        ours = {TopicPartition(tp.topic, tp.partition) for tp in revoked if tp.topic in topics}
        if not ours or self._on_revoked is None or self._stopped:
            return
        logger.info("partitions revoked: %s", _describe(ours))
        await self._on_revoked(ours)
        for tp in ours:
            self._held.pop(tp, None)  # never acknowledged: the next owner re-reads them from the Delta log

    async def _faust_rebalance_complete(self, sender: faust.App, **_: Any) -> None:
        """Awaited by Faust before it seeks to the group's offsets: commit the Delta log's positions there."""
        if (await self.app.wait(self._started)).stopped or self._stopped or self._on_assigned is None:
            return
        partitions = self.assignment()
        positions = await self._on_assigned(partitions)
        known = {tp: offset for tp, offset in positions.items() if offset is not None}
        if not await commit_offsets(self.app, known):
            logger.warning("the group is rebalancing again; the next assignment commits the Delta log's positions")
        logger.info(
            "partitions assigned: %s (from the Delta log: %s)",
            _describe(partitions) or "none",
            ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(known.items())) or "none",
        )


def _describe(partitions: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))
