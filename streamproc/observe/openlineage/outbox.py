"""The lineage outbox: OpenLineage events wait here, durable and in order, until the transport has taken them.

Layout, one folder per job (``<outbox dir>/<namespace>/<job>/``)::

    20261121T091500Z-<run id>.jsonl      the run's events, one JSON object per line, appended and fsynced (after
                                         its START, also RUNNING events of loads it recovered for a crashed run)
    20261121T091500Z-<run id>.acked      {"offset": bytes of the .jsonl delivered, "count": events delivered}
    20261121T091500Z-<run id>.sealed     present once nothing more will be appended (the run ended)
    rejected.jsonl                       events the receiver refused as invalid, with its answer (kept, not lost)

A log belongs to the process holding an exclusive ``flock`` on its ``.jsonl``; the kernel releases the lock when the
process dies, so another process can then adopt the log (:meth:`Outbox.adopt_orphans`) and deliver the rest. A log is
deleted once it is sealed and every event is delivered. Delivery is at least once: an event sent but not yet
acknowledged here when the process dies is sent again (the catalog ignores re-sent loads and versions).

Lifecycle of a :class:`RunLog`: created or adopted → :meth:`~RunLog.append` / :meth:`~RunLog.next_pending` /
:meth:`~RunLog.ack` (thread-safe) → :meth:`~RunLog.seal` → :meth:`~RunLog.close`; never used after close.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamproc.durability import fsync_dir
from streamproc.errors import StreamprocError

__all__ = ["TERMINAL_EVENT_TYPES", "Outbox", "OutboxBusyError", "OutboxError", "Pending", "RunLog"]

logger = logging.getLogger(__name__)

TERMINAL_EVENT_TYPES = frozenset({"COMPLETE", "FAIL", "ABORT"})
_CHUNK = 64 * 1024


class OutboxError(StreamprocError):
    """The outbox folder or one of its files cannot be read or written."""


class OutboxBusyError(OutboxError):
    """Another live process holds this log."""


@dataclass(frozen=True, slots=True)
class Pending:
    """The oldest undelivered event of a log: the event and the byte offset just past its line."""

    event: dict[str, Any]
    end: int


class RunLog:
    """One append-only JSONL file of events and its delivery position. Open it through :class:`Outbox`.

    Raises (constructor):
        OutboxBusyError: another live process holds the log.
        OutboxError: the file cannot be opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutboxError(f"cannot open lineage outbox file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise OutboxBusyError(f"{path} belongs to a live process") from None
        self._closed = False
        self._offset, self.delivered = self._read_ack()
        self.appended, self.last_event_type, complete = self._scan()
        if os.fstat(self._fd).st_size > complete:
            # A torn last line: its append never returned (the process died mid-write), so it was never an event.
            logger.warning("dropping the torn last line of %s (its writer died mid-append)", path)
            os.ftruncate(self._fd, complete)

    @property
    def kind(self) -> str:
        """``run`` (a run's own events) or ``backfill`` (events rebuilt from the lake)."""
        return "backfill" if "-backfill-" in self.path.name else "run"

    @property
    def sealed(self) -> bool:
        return self.path.with_suffix(".sealed").exists()

    @property
    def pending(self) -> int:
        """Events appended but not yet delivered."""
        return max(0, self.appended - self.delivered)

    def append(self, event: dict[str, Any]) -> None:
        """Append one event and fsync it: when this returns, the event survives a crash.

        Raises:
            OutboxError: the write or the fsync failed (disk full, I/O error).
        """
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        with self._lock:
            self._check_open()
            try:
                os.write(self._fd, line)
                os.fsync(self._fd)
            except OSError as exc:
                raise OutboxError(f"cannot append to lineage outbox {self.path}: {exc.strerror}") from exc
            self.appended += 1
            self.last_event_type = event.get("eventType")

    def next_pending(self) -> Pending | None:
        """The oldest undelivered event, or ``None`` (a torn last line, from a crash mid-write, counts as none)."""
        with self._lock:
            self._check_open()
            buffer = b""
            while b"\n" not in buffer:
                chunk = os.pread(self._fd, _CHUNK, self._offset + len(buffer))
                if not chunk:
                    return None
                buffer += chunk
            line = buffer[: buffer.index(b"\n") + 1]
            end = self._offset + len(line)
        try:
            return Pending(json.loads(line), end)
        except ValueError:
            logger.error("skipping an unreadable line of %s at byte %d", self.path, end - len(line))
            self.ack(end)
            return self.next_pending()

    def ack(self, end: int) -> None:
        """Record that everything before byte ``end`` was delivered (rename-replaced, not fsynced: losing it only
        means sending again)."""
        with self._lock:
            self._check_open()
            self._offset = end
            self.delivered += 1
            temporary = self.path.with_suffix(".acked.tmp")
            try:
                temporary.write_text(json.dumps({"offset": end, "count": self.delivered}))
                temporary.replace(self.path.with_suffix(".acked"))
            except OSError as exc:
                raise OutboxError(f"cannot record delivery in {self.path}: {exc.strerror}") from exc

    def seal(self) -> None:
        """Nothing more will be appended; once every event is delivered the log may be deleted."""
        marker = self.path.with_suffix(".sealed")
        marker.touch()
        fsync_dir(self.path.parent)

    def close(self, *, delete_if_done: bool = True) -> bool:
        """Release the log; delete its files if it is sealed and fully delivered. Returns whether it was deleted."""
        with self._lock:
            if self._closed:
                return False
            done = delete_if_done and self.sealed and self.next_pending_offset_is_end()
            if done:
                for suffix in (".acked", ".sealed", ".jsonl"):
                    self.path.with_suffix(suffix).unlink(missing_ok=True)
            self._closed = True
            os.close(self._fd)
            return done

    def next_pending_offset_is_end(self) -> bool:
        return self._offset >= os.fstat(self._fd).st_size

    def _check_open(self) -> None:
        if self._closed:
            raise OutboxError(f"{self.path} is closed")

    def _read_ack(self) -> tuple[int, int]:
        try:
            ack = json.loads(self.path.with_suffix(".acked").read_text())
            return int(ack["offset"]), int(ack["count"])
        except FileNotFoundError:
            return 0, 0
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("unreadable delivery record of %s: its events are sent again from the start", self.path)
            return 0, 0

    def _scan(self) -> tuple[int, str | None, int]:
        """Count the complete lines, read the last one's eventType, and the bytes they span (one pass, constant
        memory)."""
        count, last, offset, tail = 0, None, 0, b""
        while chunk := os.pread(self._fd, _CHUNK, offset):
            offset += len(chunk)
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            count += len(lines)
            for line in reversed(lines):
                if line.strip():
                    last = line
                    break
        event_type = None
        if last is not None:
            try:
                event_type = json.loads(last).get("eventType")
            except ValueError:
                event_type = None
        return count, event_type, offset - len(tail)


class Outbox:
    """The outbox folder of one job.

    Args:
        directory: the job's folder (created if missing).

    Raises:
        OutboxError: the folder cannot be created.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(f"cannot create the lineage outbox {directory}: {exc.strerror}") from exc

    def create(self, log_id: str, *, kind: str = "run") -> RunLog:
        """A new log for a run (``log_id`` = run id) or a backfill; files sort by creation time."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        infix = "-backfill-" if kind == "backfill" else "-"
        log = RunLog(self.directory / f"{stamp}{infix}{log_id}.jsonl")
        fsync_dir(self.directory)
        return log

    def adopt_orphans(self) -> list[RunLog]:
        """Every log no live process holds (its owner died or ended before delivering everything), oldest first."""
        adopted = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if path.name == "rejected.jsonl":
                continue
            try:
                adopted.append(RunLog(path))
            except OutboxBusyError:
                continue
        return adopted

    def status(self) -> list[dict[str, Any]]:
        """Per log: file, pending and delivered counts, sealed, and whether a live process holds it (read-only)."""
        rows = []
        for path in sorted(self.directory.glob("*.jsonl")):
            if path.name == "rejected.jsonl":
                continue
            try:
                log = RunLog(path)
            except OutboxBusyError:
                rows.append({"file": path.name, "live": True})
                continue
            rows.append(
                {
                    "file": path.name,
                    "live": False,
                    "pending": log.pending,
                    "delivered": log.delivered,
                    "sealed": log.sealed,
                    "last_event_type": log.last_event_type,
                }
            )
            log.close(delete_if_done=False)
        return rows

    def reject(self, event: dict[str, Any], reason: str) -> None:
        """Keep an event the receiver refused as invalid, with the reason, in ``rejected.jsonl``."""
        line = json.dumps({"rejected_at": dt.datetime.now(dt.UTC).isoformat(), "reason": reason, "event": event})
        path = self.directory / "rejected.jsonl"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
