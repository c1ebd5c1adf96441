"""The HTTP source's write-ahead log: per stream, numbered records in append-only segment files, fsynced before a
request is acknowledged, deleted once the Delta log holds them.

Layout and format (all integers little-endian)::

    <wal_dir>/.lock                                  held (flock) by the one process using the log
    <wal_dir>/<stream>-<partition>/<first offset, 20 digits>.wal
        magic    8 bytes  b"SPWAL\\x001\\n"
        record*  u32 payload length | u32 CRC-32 of the next 16 bytes and the payload | i64 offset
                 | i64 timestamp (ms since the epoch) | payload (the event's JSON bytes)

Offsets are the Source protocol's offsets of ``(stream, partition)``: contiguous, ascending, never reused. A segment
is named by its first offset; the last segment is the active one, rolled once it exceeds ``segment_bytes``. The
active segment is never deleted, so the next offset survives a restart even when everything is landed.

Recovery: a record cut short or failing its CRC at the end of the active segment is a write that was never
acknowledged (the process died before its fsync returned), and is truncated away. The same damage inside a sealed
segment is corruption and raises :class:`WalCorruptError`: never silently skip acknowledged events.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from streamproc.durability import fsync_dir
from streamproc.errors import SourceError

__all__ = ["StreamLog", "WalBusyError", "WalCorruptError", "WalRecord", "WriteAheadLog"]

_MAGIC = b"SPWAL\x001\n"
_HEADER = struct.Struct("<IIqq")
_SUFFIX = ".wal"
_READ_CHUNK = 4 * 1024 * 1024


class WalCorruptError(SourceError):
    """A sealed segment of the write-ahead log is damaged (acknowledged events cannot be read back)."""


class WalBusyError(SourceError):
    """Another process holds the write-ahead log's folder."""


class WalRecord(NamedTuple):
    """One logged event: its offset, when it was received (ms since the epoch) and its JSON bytes."""

    offset: int
    timestamp_ms: int
    payload: bytes


def _encode(offset: int, timestamp_ms: int, payload: bytes) -> bytes:
    body = struct.pack("<qq", offset, timestamp_ms) + payload
    return struct.pack("<II", len(payload), zlib.crc32(body)) + body


def _segment_name(first_offset: int) -> str:
    return f"{first_offset:020d}{_SUFFIX}"


class StreamLog:
    """The log of one ``(stream, partition)``.

    Blocking file I/O: call from worker threads. One :meth:`append` at a time (the caller serializes them, see
    :class:`streamproc.sources.http.front.GroupCommit`); :meth:`read` may run concurrently with it and sees only records
    whose append returned (fsynced).

    Args:
        directory: the stream's folder (created if missing).
        segment_bytes: size above which the active segment is rolled.
    """

    def __init__(self, directory: Path, *, segment_bytes: int) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._segments: list[int] = []  # first offsets, ascending; the last is active
        self._active: int | None = None  # fd of the active segment, opened for appending
        self._active_size = 0
        self._next = 0
        self._durable_end = 0
        self._spans: deque[tuple[int, int]] = deque()  # (last offset, bytes) of what is not known to be landed
        self._backlog = 0
        self._lock = threading.Lock()  # guards _segments and _spans between the appender and readers
        self._reader: tuple[int, int, int] | None = None  # (segment first offset, byte position, next offset)
        self.open()

    # -- state -------------------------------------------------------------------------------------------------
    @property
    def next_offset(self) -> int:
        """The offset the next appended record gets (= one past the last durable record)."""
        return self._next

    @property
    def first_offset(self) -> int:
        """The oldest offset still held (= :attr:`next_offset` when the log holds nothing)."""
        return self._segments[0] if self._segments else self._next

    @property
    def backlog_bytes(self) -> int:
        """Bytes of records not yet known to be landed (an upper bound: counted per append and per segment)."""
        return self._backlog

    # -- open and recover --------------------------------------------------------------------------------------
    def open(self) -> None:
        """Find the segments, truncate a torn tail of the active one, and learn the next offset.

        Raises:
            WalCorruptError: a segment name or magic is not ours.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        firsts = []
        for path in self.directory.iterdir():
            if path.suffix != _SUFFIX:
                continue
            try:
                firsts.append(int(path.stem))
            except ValueError as exc:
                raise WalCorruptError(f"unexpected file in the write-ahead log: {path}") from exc
        self._segments = sorted(firsts)
        if not self._segments:
            self._roll(0)
            return
        last = self._segments[-1]
        path = self._path(last)
        end_offset, good_size = self._scan(path, last, sealed=False)
        if good_size < path.stat().st_size:
            with open(path, "r+b") as handle:
                handle.truncate(good_size)
                os.fsync(handle.fileno())
        self._next = self._durable_end = end_offset
        self._active = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._active_size = good_size
        for first, following in zip(self._segments, [*self._segments[1:], None], strict=True):
            size = self._path(first).stat().st_size - len(_MAGIC)
            last_offset = (following if following is not None else end_offset) - 1
            if size > 0:
                self._spans.append((last_offset, size))
                self._backlog += size

    def _scan(self, path: Path, first: int, *, sealed: bool) -> tuple[int, int]:
        """``(next offset, byte size of the intact prefix)`` of a segment."""
        data = path.read_bytes()
        if len(data) < len(_MAGIC):
            if sealed:
                raise WalCorruptError(f"{path}: shorter than its header")
            with open(path, "wb") as handle:  # created but never written: rewrite the header
                handle.write(_MAGIC)
                os.fsync(handle.fileno())
            return first, len(_MAGIC)
        if data[: len(_MAGIC)] != _MAGIC:
            raise WalCorruptError(f"{path}: not a streamproc write-ahead log segment")
        pos, expected = len(_MAGIC), first
        while pos + _HEADER.size <= len(data):
            length, crc, offset, _ = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if end > len(data) or offset != expected or zlib.crc32(data[pos + 8 : end]) != crc:
                break
            pos, expected = end, expected + 1
        if sealed and pos != len(data):
            raise WalCorruptError(f"{path}: damaged record at byte {pos} (offset {expected})")
        return expected, pos

    def _path(self, first: int) -> Path:
        return self.directory / _segment_name(first)

    def _roll(self, first: int) -> None:
        """Seal the active segment and start a new one whose first offset is ``first``."""
        path = self._path(first)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, _MAGIC)
        os.fsync(fd)
        fsync_dir(self.directory)
        if self._active is not None:
            os.close(self._active)
        with self._lock:
            self._segments.append(first)
        self._active, self._active_size = fd, len(_MAGIC)
        self._next = self._durable_end = max(self._next, first)

    # -- write -------------------------------------------------------------------------------------------------
    def append(self, payloads: Sequence[bytes], *, timestamp_ms: int) -> int:
        """Append records and fsync them; returns the first one's offset (the others follow contiguously).

        Raises:
            OSError: the disk refused the write or the sync (nothing of the call is then acknowledged; a partly
                written tail is truncated on the next open).
        """
        if self._active is None:
            raise SourceError("the write-ahead log is closed")
        if self._active_size >= self.segment_bytes:
            self._roll(self._next)
        first = self._next
        data = b"".join(_encode(first + i, timestamp_ms, p) for i, p in enumerate(payloads))
        view = memoryview(data)
        while view:
            written = os.write(self._active, view)
            view = view[written:]
        os.fdatasync(self._active)
        self._active_size += len(data)
        self._next = self._durable_end = first + len(payloads)
        with self._lock:
            self._spans.append((self._next - 1, len(data)))
            self._backlog += len(data)
        return first

    def advance_to(self, offset: int) -> None:
        """Make ``offset`` the next offset when the log is behind it (the Delta log knows later offsets, e.g. the
        log's folder was wiped): offsets are never reused, or new events would look already landed."""
        if offset > self._next:
            self._roll(offset)

    # -- read --------------------------------------------------------------------------------------------------
    def read(self, offset: int, *, max_records: int, max_bytes: int = _READ_CHUNK) -> list[WalRecord]:
        """Up to ``max_records`` durable records from ``offset`` on (fewer at the end of the log or past
        ``max_bytes`` of payload).

        Raises:
            WalCorruptError: a record of the log is damaged, or ``offset`` is no longer held.
        """
        durable_end = self._durable_end  # before the segment list: a later roll cannot hide what this counts
        if offset >= durable_end:
            return []
        with self._lock:
            segments = list(self._segments)
        if offset < segments[0]:
            raise WalCorruptError(f"offset {offset} was released from the log of {self.directory.name}")
        if self._reader is not None and self._reader[2] == offset and self._reader[0] in segments:
            segment, pos, expected = self._reader  # sequential reading continues where the last read stopped
        else:
            segment = max(s for s in segments if s <= offset)
            pos, expected = len(_MAGIC), segment
        records: list[WalRecord] = []
        size = 0
        while expected < durable_end and len(records) < max_records and size < max_bytes:
            index = segments.index(segment)
            following = segments[index + 1] if index + 1 < len(segments) else None
            path = self._path(segment)
            with open(path, "rb") as handle:
                file_size = os.fstat(handle.fileno()).st_size
                if following is not None and (expected >= following or pos >= file_size):
                    # Sealed and read to its end: the next segment (after a gap, if advance_to made one).
                    segment, pos, expected = following, len(_MAGIC), max(expected, following)
                    continue
                handle.seek(pos)
                chunk = handle.read(_READ_CHUNK)
                at = 0
                while expected < durable_end and len(records) < max_records and size < max_bytes:
                    if at + _HEADER.size > len(chunk):
                        break
                    length, crc, record_offset, timestamp_ms = _HEADER.unpack_from(chunk, at)
                    end = at + _HEADER.size + length
                    if end > len(chunk):
                        if at > 0:
                            break  # the rest of the record comes with the next chunk
                        chunk += handle.read(end - len(chunk))  # one record bigger than a chunk
                        if end > len(chunk):
                            raise WalCorruptError(f"{path}: record at byte {pos} is cut short (offset {expected})")
                    if record_offset != expected or zlib.crc32(chunk[at + 8 : end]) != crc:
                        raise WalCorruptError(f"{path}: damaged record at byte {pos + at} (offset {expected})")
                    if record_offset >= offset:
                        records.append(WalRecord(record_offset, timestamp_ms, chunk[at + _HEADER.size : end]))
                        size += length
                    at, expected = end, expected + 1
                pos += at
            if at == 0:
                raise WalCorruptError(f"{path}: offsets up to {durable_end - 1} are durable but not readable")
        self._reader = (segment, pos, expected)
        return records

    # -- release -----------------------------------------------------------------------------------------------
    def release(self, upto: int) -> int:
        """Everything below offset ``upto`` is landed: forget its backlog and delete sealed segments wholly below
        it. Returns the number of segment files deleted."""
        with self._lock:
            while self._spans and self._spans[0][0] < upto:
                self._backlog -= self._spans.popleft()[1]
            doomed = [s for s, following in zip(self._segments, self._segments[1:], strict=False) if following <= upto]
            self._segments = self._segments[len(doomed) :]
        for first in doomed:
            self._path(first).unlink(missing_ok=True)
        if doomed:
            fsync_dir(self.directory)
        return len(doomed)

    def close(self) -> None:
        """Close the active segment. Idempotent."""
        if self._active is not None:
            fd, self._active = self._active, None
            os.close(fd)


class WriteAheadLog:
    """The log's folder, held by one process (an ``flock`` on ``.lock``), and its streams.

    Lifecycle: construct (takes the lock) → :meth:`stream` → :meth:`close`.

    Raises:
        WalBusyError: another process holds the folder.
    """

    def __init__(self, directory: str | Path, *, segment_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock_fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise WalBusyError(f"another process uses the write-ahead log in {self.directory}") from exc
        self._streams: dict[tuple[str, int], StreamLog] = {}

    def stream(self, name: str, partition: int) -> StreamLog:
        """The log of ``(name, partition)``, opened (and recovered) on first use."""
        key = (name, partition)
        if key not in self._streams:
            self._streams[key] = StreamLog(self.directory / f"{name}-{partition}", segment_bytes=self.segment_bytes)
        return self._streams[key]

    def close(self) -> None:
        """Close every stream and release the folder. Idempotent."""
        for log in self._streams.values():
            log.close()
        self._streams.clear()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
