"""Accepting a request's events: check, make durable, then (and only then) let the endpoint answer ``200``.

Accepting is all or nothing per request: readiness and backpressure are checked, events of ``freeze`` contracts are
validated (a violation refuses the whole request with ``422`` and every violation), then each target's events are
written by the :class:`Writer` in parallel: appended and fsynced to the write-ahead log (:class:`LogWriter`), or
acknowledged by Kafka with ``acks=all`` (:class:`streamproc.sources.http.gateway.KafkaWriter`).

Events of other modes are not validated here: under ``discard_row`` / ``discard_value`` the pipeline quarantines
what breaks the contract, as it does for Kafka.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import anyio

from contracts import ContractFrozenError, validate_batch
from streamproc.errors import first_error
from streamproc.sources.http.errors import BackpressureError, ContractViolationError, UnavailableError
from streamproc.sources.http.targets import Target
from streamproc.sources.http.wal import StreamLog

__all__ = ["Event", "Front", "LogWriter", "Writer", "frozen_violations"]

_MAX_DETAILS = 100


class Event(NamedTuple):
    """One event of a request: where it goes, its JSON bytes, and its Kafka key in gateway mode."""

    target: Target
    payload: bytes
    key: bytes | None = None


class Writer(Protocol):
    """Makes a target's events durable; returns ``(first, last)`` offsets where it knows them."""

    def check_capacity(self, target: Target, size: int) -> None:
        """Raise :class:`BackpressureError` when ``size`` more bytes would exceed the bound."""

    async def write(self, target: Target, events: Sequence[Event]) -> tuple[int, int] | None: ...


@dataclass(slots=True)
class _Pending:
    payloads: list[bytes]
    first: int | None = None
    error: OSError | None = None


class _Stream:
    """Group commit into one stream's log: requests that arrive while an fsync runs share the next one."""

    def __init__(self, log: StreamLog) -> None:
        self.log = log
        self.lock = anyio.Lock()
        self.queue: list[_Pending] = []
        self.appended = anyio.Event()

    async def append(self, payloads: list[bytes]) -> int:
        pending = _Pending(payloads)
        self.queue.append(pending)
        async with self.lock:
            if pending.first is None and pending.error is None:  # not written by an earlier holder of the lock
                batch, self.queue = self.queue, []
                everything = [p for entry in batch for p in entry.payloads]
                try:
                    first = await anyio.to_thread.run_sync(self._append, everything)
                except OSError as exc:
                    for entry in batch:
                        entry.error = exc
                else:
                    for entry in batch:
                        entry.first, first = first, first + len(entry.payloads)
                    self.appended.set()
                    self.appended = anyio.Event()
        if pending.error is not None:
            raise UnavailableError(
                f"the write-ahead log refused the write: {pending.error.strerror or pending.error}",
                code="log_unavailable",
                retry_after=5,
            )
        assert pending.first is not None
        return pending.first

    def _append(self, payloads: list[bytes]) -> int:
        return self.log.append(payloads, timestamp_ms=int(time.time() * 1000))


class LogWriter:
    """Writes each target's events into its stream of the write-ahead log (see :mod:`streamproc.sources.http.wal`).

    Args:
        logs: target name → its stream's log.
        max_unlanded_bytes: a stream's backlog (written, not yet landed) above which requests get ``429``.
        retry_after: seconds a ``429`` asks the client to wait (about one micro-batch linger).
    """

    def __init__(self, logs: dict[str, StreamLog], *, max_unlanded_bytes: int, retry_after: int) -> None:
        self.streams = {name: _Stream(log) for name, log in logs.items()}
        self.max_unlanded_bytes = max_unlanded_bytes
        self.retry_after = retry_after

    def appended(self, name: str) -> anyio.Event:
        """Set once the next append to ``name``'s stream is durable (then replaced by a fresh event)."""
        return self.streams[name].appended

    def check_capacity(self, target: Target, size: int) -> None:
        log = self.streams[target.name].log
        if log.backlog_bytes + size > self.max_unlanded_bytes:
            raise BackpressureError(
                f"{target.name}: {log.backlog_bytes:,} bytes wait to be landed (limit {self.max_unlanded_bytes:,}); "
                "retry later",
                code="backpressure",
                retry_after=self.retry_after,
            )

    async def write(self, target: Target, events: Sequence[Event]) -> tuple[int, int]:
        first = await self.streams[target.name].append([e.payload for e in events])
        return first, first + len(events) - 1


def frozen_violations(target: Target, payloads: Sequence[bytes], indexes: Sequence[int]) -> list[dict[str, Any]]:
    """Every event of ``payloads`` that breaks a ``freeze`` entity of ``target``'s contract, with all its
    violations (at most 100 events listed). ``indexes`` are the events' positions in the request. Blocking (CPU)."""
    try:
        validate_batch(target.contract, payloads, modes=target.modes)
        return []
    except ContractFrozenError:
        pass
    details: list[dict[str, Any]] = []
    info = target.contract.__contract__
    for index, payload in zip(indexes, payloads, strict=True):
        try:
            validate_batch(target.contract, [payload], modes=target.modes)
        except ContractFrozenError as exc:
            details.append(
                {
                    "index": index,
                    "contract": info.name,
                    "contract_version": info.version,
                    "violations": [dataclasses.asdict(v) for v in exc.rejection.violations],
                }
            )
            if len(details) >= _MAX_DETAILS:
                break
    return details


class Front:
    """Accepts requests' events for a :class:`Writer` (see the module docstring).

    Attributes:
        accepting: ``False`` until every target's stream knows its position (and again while stopping): requests
            get ``503`` meanwhile.
    """

    def __init__(self, writer: Writer, *, retry_after: int) -> None:
        self.writer = writer
        self.retry_after = retry_after
        self.accepting = False
        self.not_accepting_reason = "starting"

    async def accept(self, events: Sequence[Event]) -> dict[str, tuple[int, int] | None]:
        """Make ``events`` durable, all or nothing; returns target name → ``(first, last)`` offset (``None`` when
        the writer does not know them).

        Raises:
            UnavailableError: not accepting now, or the write failed (nothing of the request is acknowledged).
            BackpressureError: a target's backlog is full.
            ContractViolationError: events break a ``freeze`` contract (every violation listed).
        """
        if not self.accepting:
            raise UnavailableError(
                f"not accepting events ({self.not_accepting_reason})", code="unavailable", retry_after=self.retry_after
            )
        groups: dict[str, tuple[Target, list[Event], list[int]]] = {}
        for index, event in enumerate(events):
            target, group, indexes = groups.setdefault(event.target.name, (event.target, [], []))
            group.append(event)
            indexes.append(index)
        for target, group, _ in groups.values():
            self.writer.check_capacity(target, sum(len(e.payload) for e in group))
        details: list[dict[str, Any]] = []
        for target, group, indexes in groups.values():
            if target.freeze:
                payloads = [e.payload for e in group]
                details += await anyio.to_thread.run_sync(frozen_violations, target, payloads, indexes)
        if details:
            raise ContractViolationError(
                f"{len(details)} event(s) break a frozen contract; nothing of the request was accepted",
                code="contract_violation",
                details=sorted(details, key=lambda d: d["index"])[:_MAX_DETAILS],
            )
        results: dict[str, tuple[int, int] | None] = {}

        async def write(target: Target, group: list[Event]) -> None:
            results[target.name] = await self.writer.write(target, group)

        try:
            async with anyio.create_task_group() as tg:
                for target, group, _ in groups.values():
                    tg.start_soon(write, target, group)
        except BaseExceptionGroup as failed:
            # One target's write failed: the request is refused and retried whole. Other targets' events may be
            # durable already; a retry then logs them twice (at least once; Segment's messageId tells them apart).
            raise first_error(failed) from None
        return results

