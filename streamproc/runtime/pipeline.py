"""The pipeline: its stage loops, joined by bounded anyio memory streams in one task group.

```
 fetch ──(batch.queue_size chunks)──► batching: Batcher ──(one closed batch)──► preparing: LoadPreparer.prepare
   (validation, worker thread) ──(one prepared load)──► committing: Checkpoint.commit (Delta, worker thread; offsets)
```

The stages overlap: the event loop keeps fetching and batching while a batch is validated, and the next batch is
validated while the previous one is written by delta-rs (which releases the GIL). Loads commit in the order they were
closed. What runs beside what, and under which lock: runtime/ownership.py (the landing lock, rebalance generations)
and runtime/checkpoint.py (commit, then offsets); building the parts from the config is runtime/build.py's.

Shutdown (:meth:`Pipeline.request_stop`, which the runner calls on SIGINT/SIGTERM): fetching stops, the open batch is
flushed and landed, offsets are committed, and the consumer leaves the group, within ``shutdown_grace_seconds``;
past that the open batch is abandoned (it was never acknowledged, so a restart re-reads it from the Delta log's
position). The last :func:`_leave_budget` seconds of the grace period are kept for leaving the group.
:meth:`Pipeline.abort` (a second SIGINT) cuts all of that short at once, leaving the source a second to leave.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from contracts import schema_hash
from streamproc.batching.batcher import Batcher, MicroBatch
from streamproc.config import KafkaSourceConfig, PipelineConfig
from streamproc.config.resolve import PipelineContracts, Route
from streamproc.errors import ContractStopError, StreamprocError, first_error
from streamproc.observe.observer import Observers, PipelineObserver, RunInfo
from streamproc.observe.summary import RunSummary
from streamproc.runtime.build import RunParts, build_parts
from streamproc.runtime.caught_up import CaughtUp
from streamproc.runtime.checkpoint import Checkpoint
from streamproc.runtime.memory import apply_memory_config
from streamproc.runtime.ownership import PartitionOwnership
from streamproc.sinks.committer import PreparedLoad
from streamproc.sinks.maintenance import TableMaintainer, run_maintenance
from streamproc.records import RecordChunk
from streamproc.sources.base import Source
from streamproc.validation.prepare import LoadPreparer

__all__ = ["Pipeline"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CaughtUpMark:
    """Sent by the fetch stage once everything is fetched or landed up to the end offsets seen at start."""


@dataclass(frozen=True, slots=True)
class _Fetched:
    """Records as the consumer returned them (a chunk per partition), and the rebalance generation they belong to."""

    generation: int
    chunks: list[RecordChunk]


@dataclass(frozen=True, slots=True)
class _Closed:
    """A closed micro-batch, and the rebalance generation it was closed in."""

    generation: int
    batch: MicroBatch


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A load prepared for commit, and the rebalance generation its batch was closed in."""

    generation: int
    load: PreparedLoad


_CAUGHT_UP = _CaughtUpMark()
_Chunk = _Fetched | _CaughtUpMark


class Pipeline:
    """One pipeline of ``streamproc run``: consume, validate, land, commit, until stopped.

    Lifecycle: construct → :meth:`run` once. Not reusable.

    Args:
        config: the validated pipeline config.
        until_caught_up: stop once every partition of the subscribed topics is landed up to the end offsets seen at
            start (runtime/caught_up.py); a bounded source (a file) always stops at its end.
        observers: told of the run's start, loads, rebalances, retries and stop (metrics, lineage, readiness).
        source: the source to consume, not yet started (default: the one the config names, see
            :func:`streamproc.sources.open_source`); the HTTP source passes its log's streams, Faust its stream.
        contracts: the config's contracts if the caller resolved them already.
    """

    def __init__(
        self,
        config: PipelineConfig,
        *,
        until_caught_up: bool = False,
        observers: Sequence[PipelineObserver] = (),
        source: Source | None = None,
        contracts: PipelineContracts | None = None,
    ) -> None:
        self.config = config
        self.until_caught_up = until_caught_up
        self.observers = Observers(observers)
        self.run_id = str(uuid.uuid4())
        self.summary = RunSummary(pipeline=config.name)
        self.started = anyio.Event()
        """Set once the tables are open, as observers are told the run started."""
        self._source = source
        self._contracts = contracts
        self._stop = anyio.Event()
        self._stop_requested_at: float | None = None
        self._abort = anyio.Event()
        self._leaving: anyio.CancelScope | None = None
        self._batcher = Batcher(config.batch)
        self._used = False

    def request_stop(self) -> None:
        """Ask for a graceful stop (flush, commit, leave the group)."""
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
        self._stop.set()

    def abort(self) -> None:
        """Stop at once (a second SIGINT): cut a graceful stop short. The stages are cancelled and the source gets a
        second to leave its group; what is not landed was never acknowledged, so the next run reads it again."""
        self.request_stop()
        self._abort.set()
        if self._leaving is not None:
            self._leaving.cancel()

    async def run(self) -> RunSummary:
        """Run until caught up (if asked), a stop request, or an error.

        Returns:
            The run's :class:`RunSummary`.

        Raises:
            ContractStopError: an event violated a ``freeze`` contract entity; nothing from it on was committed.
            NotCaughtUpError: with ``until_caught_up``, partitions ended short of their end offsets.
            SchemaMismatchError: an existing table does not match the contract.
            SourceUnavailableError: the broker could not be reached at start.
            SourceError: with ``until_caught_up``, a subscribed Kafka topic does not exist (before any table is touched).
            ContractError: a contract could not be loaded or registered.
        """
        if self._used:
            raise StreamprocError("a Pipeline runs once; make a new one")
        self._used = True
        started = time.monotonic()
        apply_memory_config(self.config.memory)  # Arrow's allocator and malloc's threshold: before the first batch
        parts: RunParts | None = None
        try:
            parts = await build_parts(
                self.config,
                run_id=self.run_id,
                source=self._source,
                contracts=self._contracts,
                until_caught_up=self.until_caught_up,
            )
            await self._run(parts)
        except BaseException as exc:
            self.summary.seconds = time.monotonic() - started
            self.summary.stopped_by = "freeze" if isinstance(exc, ContractStopError) else "error"
            if self.started.is_set():
                with anyio.CancelScope(shield=True):
                    await self.observers.on_stop(self.summary, exc)
            raise
        finally:
            if parts is not None:
                await parts.close()
        self.summary.seconds = time.monotonic() - started
        await self.observers.on_stop(self.summary, None)
        return self.summary

    async def _run(self, parts: RunParts) -> None:
        config, source, landing = self.config, parts.source, parts.landing
        default = parts.contracts.default
        self.summary.tables = _tables(default)
        if parts.contracts.field is not None:  # routed: a line per route's table, as an HTTP source's per target
            for route in parts.contracts.routes:
                self.summary.add_route(route.table_name, tables=_tables(route))
        ownership = PartitionOwnership(landing.committer, self._batcher, self.observers)
        checkpoint = Checkpoint(
            landing.committer,
            source,
            ownership=ownership,
            observers=self.observers,
            summary=self.summary,
            stopping=self._stop,
        )
        self.started.set()
        await self.observers.on_start(
            RunInfo(
                run_id=self.run_id,
                config=config,
                contract=default.contract,
                contract_hash=schema_hash(default.contract),
                source_uris=source.source_uris,
                tables=dict(self.summary.tables),
                source=source,
                contracts=parts.contracts,
                open_events=self._batcher.__len__,
            )
        )
        send, receive = anyio.create_memory_object_stream[_Chunk](config.batch.queue_size)
        try:  # the source is stopped on every path, a failed start included (its clients closed, not left to GC)
            await source.start(on_assigned=ownership.assigned, on_revoked=ownership.revoked)
            caught_up: CaughtUp | None = None
            if self.until_caught_up or source.bounded:
                kafka = config.source if isinstance(config.source, KafkaSourceConfig) else None
                caught_up = CaughtUp(
                    source,
                    ownership,
                    group=config.source.consumer_group,
                    session_timeout_seconds=kafka.session_timeout_seconds if kafka is not None else None,
                )
                await caught_up.start()
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._enforce_grace, tg)
                tg.start_soon(self._fetch, source, ownership, caught_up, send)
                if config.maintenance.enabled:
                    tg.start_soon(self._maintain, parts, ownership)
                await self._stages(receive, landing.preparer, checkpoint, ownership)
                tg.cancel_scope.cancel()
            if caught_up is not None and self.summary.stopped_by == "caught_up":
                await caught_up.verify()
        except BaseExceptionGroup as group:
            # Callers handle one error: the first real one a stage raised (the others are its consequences).
            raise first_error(group) from None
        finally:
            with anyio.CancelScope(shield=True) as self._leaving, anyio.move_on_after(self._leave_seconds()):
                await source.stop()
            if self._abort.is_set():
                self.summary.stopped_by = "interrupt"

    async def _stages(
        self,
        receive: MemoryObjectReceiveStream[_Chunk],
        preparer: LoadPreparer,
        checkpoint: Checkpoint,
        ownership: PartitionOwnership,
    ) -> None:
        """Batching (here), preparing and committing, each its own task; one closed and one prepared batch wait at
        most. A contract stop (freeze, threshold) stops batching and lets the loads prepared before it commit first.
        """
        closed_send, closed = anyio.create_memory_object_stream[_Closed](0)
        prepared_send, prepared = anyio.create_memory_object_stream[_Prepared](0)
        stopped_by: list[ContractStopError] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._commit_loop, prepared, checkpoint)
            async with anyio.create_task_group() as batching:
                batching.start_soon(self._prepare_loop, closed, prepared_send, preparer, batching, stopped_by)
                async with closed_send:
                    await self._batch_loop(receive, closed_send, ownership)
        if stopped_by:
            raise stopped_by[0]

    def _leave_seconds(self) -> float:
        """How long stopping the source may take: after a stop request, what is left of the grace period (at least
        the leave budget); otherwise (caught up, an error) 10 s. A broker that stopped answering never makes a
        graceful stop outlast its grace period (the sources honour the deadline, see their ``stop``)."""
        if self._stop_requested_at is None:
            return 10.0
        if self._abort.is_set():
            return 1.0
        grace = self.config.shutdown_grace_seconds
        left = self._stop_requested_at + grace - time.monotonic()
        return max(left, _leave_budget(grace))

    async def _enforce_grace(self, tg: TaskGroup) -> None:
        await self._stop.wait()
        with anyio.move_on_after(self.config.shutdown_grace_seconds - _leave_budget(self.config.shutdown_grace_seconds)):
            await self._abort.wait()
        if self._abort.is_set():
            logger.warning(
                "stopping at once: abandoning what is not landed yet (never acknowledged: a restart re-reads it from "
                "the Delta log's positions)"
            )
        else:
            logger.error(
                "shutdown is taking longer than its %.0fs grace period allows: abandoning what is not landed yet "
                "(never acknowledged: a restart re-reads it from the Delta log's positions)",
                self.config.shutdown_grace_seconds,
            )
        tg.cancel_scope.cancel()

    async def _maintain(self, parts: RunParts, ownership: PartitionOwnership) -> None:
        maintainer = TableMaintainer(
            self.config.maintenance,
            [table.uri for table in parts.landing.committer.tables],
            storage_options=self.config.sink.storage_options,
        )
        # One member maintains: the owner of a partition 0 (the whole group when it is alone).
        await run_maintenance(
            maintainer,
            landing_lock=ownership.lock,
            is_maintainer=lambda: any(tp.partition == 0 for tp in ownership.owned),
        )

    async def _fetch(
        self,
        source: Source,
        ownership: PartitionOwnership,
        caught_up: CaughtUp | None,
        send: MemoryObjectSendStream[_Chunk],
    ) -> None:
        async with send:
            while not self._stop.is_set():
                chunks = await source.fetch(timeout_seconds=0.5)
                if chunks:
                    # Tagged before any await: the generation in which the consumer returned these records.
                    await send.send(_Fetched(ownership.generation, chunks))
                elif caught_up is not None and await caught_up.reached():
                    await send.send(_CAUGHT_UP)
                    return

    async def _batch_loop(
        self,
        receive: MemoryObjectReceiveStream[_Chunk],
        closed: MemoryObjectSendStream[_Closed],
        ownership: PartitionOwnership,
    ) -> None:
        batcher = self._batcher
        async with receive:
            while True:
                due = batcher.seconds_until_linger()
                chunk: _Chunk | None = None
                with anyio.move_on_after(math.inf if due is None else due):
                    try:
                        chunk = await receive.receive()
                    except anyio.EndOfStream:
                        await self._close(batcher.take("shutdown"), closed, ownership)
                        self.summary.stopped_by = "signal"
                        return
                if chunk is None:
                    await self._close(batcher.take("linger"), closed, ownership)
                elif isinstance(chunk, _CaughtUpMark):
                    await self._close(batcher.take("caught_up"), closed, ownership)
                    self.summary.stopped_by = "caught_up"
                    return
                else:
                    # Chunks of partitions assigned or revoked since they were fetched are dropped unread.
                    chunks = ownership.current_chunks(chunk.generation, chunk.chunks)
                    while chunks:
                        # ownership.owned is read again after each load: a rebalance may have revoked partitions.
                        reason, chunks = batcher.extend(chunks, owned=ownership.owned)
                        if reason is not None:
                            await self._close(batcher.take(reason), closed, ownership)

    @staticmethod
    async def _close(
        batch: MicroBatch | None, closed: MemoryObjectSendStream[_Closed], ownership: PartitionOwnership
    ) -> None:
        """Hand a closed batch to the prepare loop (waits while the one before it is still being prepared)."""
        if batch is not None:
            await closed.send(_Closed(ownership.generation, batch))

    @staticmethod
    async def _prepare_loop(
        closed: MemoryObjectReceiveStream[_Closed],
        prepared: MemoryObjectSendStream[_Prepared],
        preparer: LoadPreparer,
        batching: TaskGroup,
        stopped_by: list[ContractStopError],
    ) -> None:
        async with closed, prepared:
            async for item in closed:
                # One id for every attempt: a retry completes the load that a failed commit interrupted.
                prepare = functools.partial(preparer.prepare, item.batch, load_id=uuid.uuid4().hex)
                try:
                    load = await anyio.to_thread.run_sync(prepare)
                except ContractStopError as exc:  # freeze, quarantine threshold: what came before still commits
                    stopped_by.append(exc)
                    prepared.close()
                    batching.cancel_scope.cancel()
                    return
                await prepared.send(_Prepared(item.generation, load))

    @staticmethod
    async def _commit_loop(prepared: MemoryObjectReceiveStream[_Prepared], checkpoint: Checkpoint) -> None:
        """Commit each prepared load; the ``_loads`` rows waiting for their group are recorded as soon as no load
        comes for :data:`_RECORD_WHEN_IDLE_SECONDS`, and when the stream ends (a stop, caught up, a contract stop)."""
        async with prepared:
            while True:
                item: _Prepared | None = None
                with anyio.move_on_after(_RECORD_WHEN_IDLE_SECONDS if checkpoint.unrecorded else math.inf):
                    try:
                        item = await prepared.receive()
                    except anyio.EndOfStream:
                        break
                if item is None:
                    await checkpoint.record_loads()
                else:
                    await checkpoint.commit(item.load, generation=item.generation)
        await checkpoint.record_loads()


_RECORD_WHEN_IDLE_SECONDS = 0.2
"""How long the commit stage waits for the next load before it records the ``_loads`` rows waiting for their group:
longer than the gap between loads of a busy pipeline (tens of ms), short enough that ``_loads`` follows an idle one
closely."""


def _leave_budget(grace_seconds: float) -> float:
    """Seconds of the grace period kept for leaving the group after an abandoned flush (5 s, at most a fifth)."""
    return min(5.0, grace_seconds / 5)


def _tables(route: Route) -> dict[str, str]:
    """Where ``route`` lands, by role, for the run's summary."""
    return {
        "table": route.sink.table_uri,
        "quarantine": route.sink.resolved_quarantine_uri,
        "loads": route.sink.resolved_loads_uri,
    }
