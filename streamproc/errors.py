"""Errors of the streamproc runtime, split by what the caller does next.

```
StreamprocError                    root: anything the runtime raises
├── ConfigError                    the pipeline config is invalid or unreadable (stop: fix the config)
│   └── FilterError                the query engine refuses a --where condition, shown with a caret (stop: fix
│                                  the condition; in sinks/reader.py)
├── ContractStopError              a contract in freeze mode rejected an event (stop: fix the data or the contract;
│   │                              nothing past the event was committed, restart continues with no loss)
│   └── QuarantineThresholdError   a batch would quarantine more than the contract's threshold (stop, as freeze)
├── SourceError                    the source (Kafka, HTTP) failed (stop)
│   ├── SourceUnavailableError     the broker cannot be reached (retry)
│   ├── WalCorruptError            a sealed segment of the HTTP source's write-ahead log is damaged (stop; in
│   │                              sources/http/wal.py)
│   └── WalBusyError               another process holds the write-ahead log's folder (stop; sources/http/wal.py)
├── SinkError                      landing failed
│   ├── StorageUnavailableError    the Delta location cannot be written now (retry with backoff)
│   │   └── CommitConflictError    a concurrent writer won the Delta commit (re-read the log, retry)
│   ├── SchemaMismatchError        an existing table's schema does not match the contract (stop)
│   └── ConcurrentReplayError      another quarantine replay into the same table committed meanwhile (stop: one
│                                  replay at a time; nothing of this replay's load was committed)
├── ValidationWorkerError          a validation worker process died on a batch (retry once; twice: stop)
├── EndpointError                  /metrics or the HTTP source cannot listen on its port (stop: change the port)
├── NotCaughtUpError               --until-caught-up ended with partitions short of their ends (run it again)
├── OutboxError                    the lineage outbox cannot be read or written (observe/openlineage/outbox.py)
│   └── OutboxBusyError            another live process holds that log
├── IngestError                    the HTTP source refused a request: one HTTP status per subclass, drawn in
│                                  sources/http/errors.py (the client fixes the request, or retries later)
└── TableReadError                 reading a landed table failed: no table there, storage, a bad column or filter
```

Third-party errors are translated once, at the boundary: aiokafka's by one mapping
(:mod:`streamproc.sources.kafka.errors`), deltalake's and the OS's by the Delta writer
(:mod:`streamproc.sinks.delta`): ``raise SinkError(...) from exc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from contracts import ContractFrozenError
    from streamproc.records import SourceRecord

import anyio

__all__ = [
    "StreamprocError",
    "ConfigError",
    "ContractStopError",
    "QuarantineThresholdError",
    "SourceError",
    "SourceUnavailableError",
    "SinkError",
    "StorageUnavailableError",
    "CommitConflictError",
    "SchemaMismatchError",
    "ConcurrentReplayError",
    "TableReadError",
    "first_error",
]


class StreamprocError(Exception):
    """Root of every error raised by the runtime."""


class ConfigError(StreamprocError):
    """The pipeline config file is missing, unreadable, or invalid (the message names the file and field)."""


class ContractStopError(StreamprocError):
    """An event violated a contract entity in ``freeze`` mode; the pipeline stopped before committing it.

    Attributes:
        topic, partition, offset: the event's source coordinates.
    """

    def __init__(self, message: str, *, topic: str, partition: int, offset: int) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.offset = offset

    @classmethod
    def at(cls, record: SourceRecord, reason: str, consequence: str) -> Self:
        """The error for ``record``: ``"<reason> at <topic>[<partition>]@<offset>; <consequence>"``."""
        return cls(
            f"{reason} at {record.topic}[{record.partition}]@{record.offset}; {consequence}",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )


    @classmethod
    def frozen(cls, error: ContractFrozenError, record: SourceRecord) -> Self:
        """The stop for a ``freeze`` violation, from the error's evidence (its rejection and first frozen violation)
        and the event's record."""
        return cls.at(
            record,
            error.summary,
            "nothing from this event on was committed; fix the producer, or the contract (its mode, or a new"
            " version), and run again: it resumes after the last commit, with nothing lost",
        )


class QuarantineThresholdError(ContractStopError):
    """More of a batch would be quarantined than the contract's quarantine threshold allows; nothing of the batch
    was committed (the coordinates are the first quarantined event's)."""


class SourceError(StreamprocError):
    """The source failed in a way the pipeline cannot recover from by itself."""


class SourceUnavailableError(SourceError):
    """The Kafka broker (or other source) cannot be reached; retry later."""


class ValidationWorkerError(StreamprocError):
    """A validation worker process (``validation.workers``) died while it held or had queued this batch; nothing of
    it was validated.

    Nothing was acknowledged either: retry the batch (the pool starts fresh workers). A batch that kills a worker
    again is poison; stop rather than loop (a runtime error, exit status 1: the contract is not at fault).

    Attributes:
        exitcodes: the exit codes of the pool's workers that had exited (negative: killed by that signal).
    """

    def __init__(self, message: str, exitcodes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.exitcodes = exitcodes

    def __reduce__(self) -> tuple[type[ValidationWorkerError], tuple[str, tuple[int, ...]]]:
        return type(self), (str(self), self.exitcodes)


class EndpointError(StreamprocError):
    """A server of the process (the HTTP source, ``/metrics`` and the probes) cannot listen on its address: the port
    is taken (another pipeline on the host?) or not allowed (stop: change the port)."""


class NotCaughtUpError(StreamprocError):
    """``--until-caught-up`` ended with partitions of the subscribed topics not landed up to the end offsets seen at
    start (stop: run it again; what was landed stays).

    Attributes:
        behind: per partition, (landed up to, end offset at start).
    """

    def __init__(self, message: str, *, behind: dict[tuple[str, int], tuple[int | None, int]]) -> None:
        super().__init__(message)
        self.behind = behind


class SinkError(StreamprocError):
    """Landing a micro-batch failed."""


class StorageUnavailableError(SinkError):
    """The Delta location cannot be written now (permissions, network, disk); retry with backoff."""


class CommitConflictError(StorageUnavailableError):
    """Another writer committed to the same Delta table first and delta-rs could not rebase onto it (its
    ``CommitFailedError``: a concurrent ``txn`` for the same application id, or its own commit retries exhausted).

    Retry after re-reading the log (:meth:`DeltaTableWriter.refresh`): what the winner landed is then filtered out.
    """


class SchemaMismatchError(SinkError):
    """An existing Delta table's schema is not the one the contract compiles to."""


class ConcurrentReplayError(SinkError):
    """Another ``streamproc quarantine replay`` of the same quarantine table into the same table committed a replay
    load since this one read the quarantine's resolutions: this one stopped before committing its own (nothing of it
    landed). Run one replay at a time; run it again once the other is done."""


class TableReadError(StreamprocError):
    """A landed table cannot be read (:func:`streamproc.read_table`): no Delta table at the location, the storage
    failed, or a column or filter does not fit the table. The message names the table."""


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The first real error in a task group's exception group (nested groups searched, cancellations skipped).

    Callers handle one error: the first a stage raised; the others are its consequences. Returns ``group`` itself
    when it holds nothing but cancellations.
    """
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, anyio.get_cancelled_exc_class()):
            return exc
    return group
