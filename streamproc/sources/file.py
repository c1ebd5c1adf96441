"""The file source: an NDJSON, CSV or Parquet file read as one partition, offsets being event numbers.

A bounded source for backfills and replays: the pipeline stops at the end of the file. It resumes exactly once like
Kafka: the Delta log's ``txn`` version for ``(<consumer_group>, <table>, <file name>, 0)`` says how many events of
the file are already landed, and those are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anyio

from streamproc.config import FileSourceConfig
from streamproc.errors import ConfigError, SourceError
from streamproc.records import RecordChunk, TopicPartition
from streamproc.sources.base import OnAssigned, OnRevoked
from streamproc.sources.formats import check_format, count_events, iter_json_events

logger = logging.getLogger(__name__)

__all__ = ["FileSource", "count_file_events", "file_partition"]


def file_partition(config: FileSourceConfig) -> TopicPartition:
    """The one partition a file is read as: topic = the file's name, partition 0 (its ``txn`` app ids name it)."""
    return TopicPartition(Path(config.path).name, 0)


def count_file_events(config: FileSourceConfig) -> int | None:
    """The file's events (its end offset); ``None`` when the file is gone. Blocking: reads the whole file unless its
    format says the count cheaply (:func:`streamproc.sources.formats.count_events`).

    Raises:
        ConfigError: an unsupported file type.
    """
    path = Path(config.path)
    if not path.is_file():
        return None
    counted = count_events(path)
    return counted if counted is not None else sum(len(chunk) for chunk in iter_json_events(path))


class FileSource:
    """Reads one file (see :mod:`streamproc.sources.formats` for formats) as partition 0 of topic = the file's name.

    Lifecycle: :meth:`start` once → :meth:`fetch` until it returns ``[]`` with :attr:`exhausted` → :meth:`stop`.
    """

    bounded = True

    def __init__(self, config: FileSourceConfig) -> None:
        self.config = config
        self.path = Path(config.path)
        self.tp = file_partition(config)
        self._chunks: Iterator[list[bytes]] | None = None
        self._position = 0
        self._pending: list[bytes] = []
        self.exhausted = False

    @property
    def source_uris(self) -> dict[str, str]:
        return {self.tp.topic: self.path.resolve().as_uri()}

    async def check(self) -> None:
        """Raises:
            SourceError: the file does not exist.
            ConfigError: ``path`` is a directory, or no format reads it (its name's ending): a config mistake,
                found before any table exists.
        """
        if self.path.is_dir():  # "no such file" would send the user looking for a folder that is there
            raise ConfigError(
                f"source.path {self.path} is a directory: a file source reads one file; name a file in it"
            )
        if not self.path.is_file():
            raise SourceError(f"no such file: {self.path}")
        check_format(self.path)
        if self.path.stat().st_size == 0:  # not an error (an export may be empty), but never a silent success
            logger.warning("%s is empty: no events to land", self.path)

    async def start(self, *, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        """Open the file and skip what the Delta log says is landed.

        Raises:
            SourceError: the file cannot be read.
        """
        if self._chunks is not None:
            raise SourceError("a file source can be started once")
        if not self.path.is_file():
            raise SourceError(f"no such file: {self.path}")
        self._chunks = iter_json_events(self.path)
        resume = (await on_assigned({self.tp})).get(self.tp) or 0
        while self._position < resume:
            chunk = await self._next_chunk()
            if chunk is None:
                break
            if self._position + len(chunk) <= resume:
                self._position += len(chunk)
            else:
                self._pending = chunk[resume - self._position :]
                self._position = resume

    async def _next_chunk(self) -> list[bytes] | None:
        assert self._chunks is not None  # noqa: S101 - set by start()
        return await anyio.to_thread.run_sync(next, self._chunks, None)

    async def fetch(self, *, timeout_seconds: float) -> list[RecordChunk]:
        """The next chunk of events (up to 10,000); ``[]`` once the file is exhausted."""
        if self._pending:
            chunk, self._pending = self._pending, []
        else:
            chunk = await self._next_chunk() if not self.exhausted else None
        if chunk is None:
            self.exhausted = True
            return []
        first = self._position
        self._position += len(chunk)
        return [RecordChunk(self.tp.topic, 0, range(first, self._position), chunk)]

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    async def position(self, tp: TopicPartition) -> int:
        return self._position

    async def topic_offsets(self) -> dict[TopicPartition, tuple[int, int]]:
        """The file's events as offsets 0 to the end; the end is unknown until the file is read to it (one past the
        position while events remain)."""
        return {self.tp: (0, self._position if self.exhausted else self._position + 1)}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Nothing to acknowledge: the Delta log is the only record of progress through a file."""

    async def stop(self) -> None:
        self._chunks = None
