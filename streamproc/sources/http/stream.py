"""The HTTP source as the pipeline sees it: one stream of the write-ahead log, read like a one-partition topic.

Positions resume from the Delta log exactly as Kafka's do: on :meth:`WalSource.start` the pipeline's ``on_assigned``
says the next offset to land (the tables' ``txn`` versions); the source reads from there. Records are never
acknowledged to anyone but the log itself: :meth:`WalSource.commit` (called after the Delta commit) releases the
landed part of the log, deleting whole segments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from streamproc.errors import SourceError
from streamproc.sources.http.wal import StreamLog, WalRecord
from streamproc.records import RecordChunk, TopicPartition
from streamproc.sources.base import OnAssigned, OnRevoked

__all__ = ["WalSource"]

logger = logging.getLogger(__name__)


class WalSource:
    """One ``(stream, partition)`` of the HTTP source's write-ahead log.

    Lifecycle: :meth:`start` once (learns the position; :attr:`started` is then set) → :meth:`fetch` /
    :meth:`commit` → :meth:`stop`. Not reusable.

    Args:
        log: the stream's log (appended to by the HTTP endpoint).
        stream, partition: the Source protocol's topic and partition.
        source_uri: the ``_source`` lineage value, e.g. ``http://host:8088/identifies``.
        appended: returns an event that is set once the next append is durable (the endpoint's writer).
        fetch_max_records: records per fetch.
    """

    bounded = False

    def __init__(
        self,
        log: StreamLog,
        *,
        stream: str,
        partition: int,
        source_uri: str,
        appended: Callable[[], anyio.Event],
        fetch_max_records: int,
    ) -> None:
        self.log = log
        self.tp = TopicPartition(stream, partition)
        self._source_uri = source_uri
        self._appended = appended
        self._fetch_max_records = fetch_max_records
        self._position: int | None = None
        self._stopped = False
        self.started = anyio.Event()

    @property
    def source_uris(self) -> dict[str, str]:
        return {self.tp.topic: self._source_uri}

    async def check(self) -> None:
        """Nothing to check: the write-ahead log is open (the endpoint opened it)."""

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        """Ask the pipeline where to resume (the Delta log), and make the log continue after anything landed.

        Raises:
            SourceError: started twice, or after stop.
        """
        if self._position is not None or self._stopped:
            raise SourceError("a write-ahead log source can be started once")
        landed_next = (await on_assigned({self.tp})).get(self.tp)
        log = self.log
        if landed_next is None:
            position = log.first_offset
        else:
            # The log's folder may be younger than the table (wiped, or a new volume): its offsets must continue
            # after what the table holds, or new events would look landed already.
            await anyio.to_thread.run_sync(log.advance_to, landed_next)
            position = landed_next
            if position < log.first_offset:
                logger.warning(
                    "%s[%d]: the Delta log has landed up to %d but the write-ahead log starts at %d; reading from "
                    "there",
                    self.tp.topic, self.tp.partition, position - 1, log.first_offset,
                )
                position = log.first_offset
            await anyio.to_thread.run_sync(log.release, position)
        self._position = position
        pending = log.next_offset - position
        logger.info(
            "%s[%d]: resuming at offset %d (%d event(s) in the write-ahead log to land)",
            self.tp.topic, self.tp.partition, position, pending,
        )
        self.started.set()

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The next durable records (up to ``fetch_max_records``), waiting up to ``timeout_seconds`` for some."""
        if self._position is None:
            raise SourceError("the write-ahead log source is not started")
        appended = self._appended()  # taken before reading: an append in between sets it
        records = await anyio.to_thread.run_sync(self._read)
        if not records:
            with anyio.move_on_after(timeout_seconds):
                await appended.wait()
                records = await anyio.to_thread.run_sync(self._read)
        if records:
            self._position = records[-1].offset + 1
        topic, partition = self.tp
        if not records:
            return []
        return [
            RecordChunk(
                topic,
                partition,
                [r.offset for r in records],
                [r.payload for r in records],
                timestamps_ms=[r.timestamp_ms for r in records],
            )
        ]

    def _read(self) -> list[WalRecord]:
        assert self._position is not None
        return self.log.read(self._position, max_records=self._fetch_max_records)

    @property
    def unread(self) -> int:
        """Durable records not fetched yet."""
        return self.log.next_offset - (self._position if self._position is not None else self.log.first_offset)

    def assignment(self) -> set[TopicPartition]:
        return {self.tp} if self._position is not None else set()

    async def position(self, tp: TopicPartition) -> int:
        """The offset of the next record :meth:`fetch` returns."""
        return self._position if self._position is not None else self.log.first_offset

    def highwater(self, tp: TopicPartition) -> int | None:
        """One past the last durable record (what lag is measured against)."""
        return self.log.next_offset

    async def topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        """This stream's partition: from the log's first offset to one past its last durable record."""
        return {self.tp: (self.log.first_offset, self.log.next_offset)}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Records below ``offsets`` are in the lake: release them from the log (whole segments are deleted)."""
        upto = offsets.get(self.tp)
        if upto is not None:
            await anyio.to_thread.run_sync(self.log.release, upto)

    async def stop(self) -> None:
        """Stop reading (the log itself belongs to the HTTP source's run). Idempotent."""
        self._stopped = True
