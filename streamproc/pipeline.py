"""The pipeline: source → batcher → lander, joined by bounded anyio memory streams in one task group.

```
 fetch task ──(batch.queue_size chunks)──► land loop: Batcher ──(one closed batch)──► prepare loop: Lander.prepare
   (validation, worker thread) ──(one prepared load)──► commit loop: Lander.commit (worker thread) → offset commit
```

The stages overlap: the event loop keeps fetching and batching while a batch is validated, and the next batch is
validated while the previous one is written by delta-rs (which releases the GIL). Loads commit in the order they were
closed.

Shutdown (SIGINT/SIGTERM or :meth:`Pipeline.request_stop`): fetching stops, the open batch is flushed and landed,
offsets are committed, and the consumer leaves the group, within ``shutdown_grace_seconds``; past that the open batch
is abandoned (it was never acknowledged, so a restart re-reads it from the Delta log's position). The last
:func:`_leave_budget` seconds of the grace period are kept for leaving the group.

Rebalances: every fetched chunk is tagged with the rebalance generation current when the consumer returned it. A
rebalance re-seeks every assigned partition to the Delta log's position, so chunks fetched before it are dropped
unread (their records come again from that position); without that, a chunk queued across a rebalance would be
batched after the seek and open a gap before it. For the same reason a load prepared before a rebalance is dropped
by the commit loop, not committed.
"""

from __future__ import annotations

import functools
import logging
import math
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from contracts import Contract, load_contract
from contracts.modes import resolve_modes
from streamproc.batching.batcher import Batcher, MicroBatch
from streamproc.config import PipelineConfig
from streamproc.errors import ContractStopError, StorageUnavailableError, StreamprocError, first_error
from streamproc.landing import Lander, PreparedLoad
from streamproc.memory import apply_memory_config
from streamproc.observers import PipelineObserver, RunInfo
from streamproc.sinks.maintenance import TableMaintainer, run_maintenance
from streamproc.contract_stage import StageOptions
from streamproc.registry import open_registry
from streamproc.routing import RoutedLoad, route_contracts, with_routes
from streamproc.sources import consumer_group_of, open_source
from streamproc.sources.base import RecordChunk, Source, TopicPartition
from streamproc.summary import RunSummary

if TYPE_CHECKING:
    from contracts.parallel import ValidationPool
    from contracts.registry import ContractRegistry

__all__ = ["Pipeline"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _CaughtUp:
    """Marker sent by the fetch task once every assigned partition reached its end offset seen at start."""


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
    load: PreparedLoad | RoutedLoad


_CAUGHT_UP = _CaughtUp()
_Chunk = _Fetched | _CaughtUp


class Pipeline:
    """One ``streamproc run``: consume, validate, land, commit, until stopped.

    Lifecycle: construct → :meth:`run` once. Not reusable.

    Args:
        config: the validated pipeline config.
        until_caught_up: stop once the consumer has landed everything up to the end offsets it saw when its
            partitions were first assigned.
        handle_signals: stop gracefully on SIGINT/SIGTERM (the CLI sets it; embedding code may not want it).
        observers: told of the run's start, loads, rebalances, retries and stop (metrics, lineage).
        source: the source to consume, not yet started (default: the one the config names, see
            :func:`streamproc.sources.open_source`); the HTTP source passes its log's streams.

    A bounded source (a file) always stops once caught up.
    """

    def __init__(
        self,
        config: PipelineConfig,
        *,
        until_caught_up: bool = False,
        handle_signals: bool = True,
        observers: Sequence[PipelineObserver] = (),
        source: Source | None = None,
    ) -> None:
        self.config = config
        self.until_caught_up = until_caught_up
        self.handle_signals = handle_signals
        self.observers = tuple(observers)
        self._source = source
        self.run_id = str(uuid.uuid4())
        self.summary = RunSummary(pipeline=config.name)
        self._stop = anyio.Event()
        self._landing = anyio.Lock()
        self._owned: set[TopicPartition] = set()
        self._batcher = Batcher(config.batch)
        self._lander: Lander | None = None
        self._end_offsets: dict[TopicPartition, int] = {}
        self._used = False
        self._started = False
        self._retry_to_report: tuple[BaseException | None, int] | None = None
        self._generation = 0

    def request_stop(self) -> None:
        """Ask for a graceful stop (flush, commit, leave the group)."""
        self._stop.set()

    async def run(self) -> RunSummary:
        """Run until caught up (if asked), a stop request, or an error.

        Returns:
            The run's :class:`RunSummary`.

        Raises:
            ContractStopError: an event violated a ``freeze`` contract entity; nothing from it on was committed.
            SchemaMismatchError: an existing table does not match the contract.
            SourceUnavailableError: the broker could not be reached at start.
            ContractError: the contract could not be loaded.
        """
        if self._used:
            raise StreamprocError("a Pipeline runs once; make a new one")
        self._used = True
        started = time.monotonic()
        try:
            await self._run()
        except BaseException as exc:
            self.summary.seconds = time.monotonic() - started
            self.summary.stopped_by = "freeze" if isinstance(exc, ContractStopError) else "error"
            if self._started:
                with anyio.CancelScope(shield=True):
                    await self._notify("on_stop", self.summary, exc)
            raise
        self.summary.seconds = time.monotonic() - started
        await self._notify("on_stop", self.summary, None)
        return self.summary

    async def _notify(self, hook: str, *args: object) -> None:
        for observer in self.observers:
            try:
                await getattr(observer, hook)(*args)
            except Exception:  # noqa: BLE001 - an observer never stops landing (see observers.py)
                logger.exception("observer %s failed in %s", type(observer).__name__, hook)

    async def _run(self) -> None:
        config = self.config
        apply_memory_config(config.memory)  # Arrow's allocator and malloc's threshold: before the first batch
        if str(config.base_dir) not in sys.path:
            sys.path.insert(0, str(config.base_dir))
        contract = load_contract(config.contract)
        registry = await anyio.to_thread.run_sync(open_registry, config, contract)
        source = self._source if self._source is not None else open_source(config)
        self.until_caught_up = self.until_caught_up or getattr(source, "bounded", False)
        pool = await self._start_validation_pool(contract)
        try:
            await self._run_with(config, contract, registry, source, pool)
        finally:
            if pool is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(pool.close)

    async def _start_validation_pool(self, contract: type[Contract]) -> ValidationPool | None:
        """The worker processes that validate batches (``validation.workers``), started before anything is
        consumed; ``None`` to validate in this process."""
        settings = self.config.validation
        if not settings.workers:
            return None
        from contracts.parallel import ValidationPool  # a process pool only when configured

        pool = ValidationPool(
            [contract, *route_contracts(self.config).values()],
            workers=settings.workers,
            start_method=settings.start_method,
        )
        started = time.monotonic()
        try:
            await anyio.to_thread.run_sync(pool.start)
        except BaseException:
            await anyio.to_thread.run_sync(pool.close)
            raise
        logger.info("validating in %d worker process(es), started in %.1fs", settings.workers, time.monotonic() - started)
        return pool

    async def _run_with(
        self,
        config: PipelineConfig,
        contract: type[Contract],
        registry: ContractRegistry,
        source: Source,
        pool: ValidationPool | None,
    ) -> None:
        self._lander = lander = Lander(
            contract=contract,
            sink=config.sink,
            pipeline=config.name,
            consumer_group=consumer_group_of(config),
            run_id=self.run_id,
            source_uris=source.source_uris,
            modes=resolve_modes(contract, config.contract_mode),  # type: ignore[arg-type]
            registry=registry,
            stage_options=StageOptions.from_config(config),
            validation_pool=pool,
        )
        self._lander = lander = with_routes(config, lander, registry=registry)  # type: ignore[assignment]
        self.summary.tables = {
            "table": lander.table.uri,
            "quarantine": lander.quarantine.uri,
            "loads": lander.loads.uri,
        }
        await anyio.to_thread.run_sync(lander.open)
        self._started = True
        await self._notify(
            "on_start",
            RunInfo(
                run_id=self.run_id,
                config=config,
                contract=contract,
                contract_hash=lander.contract_hash,
                source_uris=source.source_uris,
                tables=dict(self.summary.tables),
                source=source,
            ),
        )
        await source.start(on_assigned=self._on_assigned, on_revoked=self._on_revoked)
        send, receive = anyio.create_memory_object_stream[_Chunk](config.batch.queue_size)
        try:
            async with anyio.create_task_group() as tg:
                if self.handle_signals:
                    tg.start_soon(self._watch_signals)
                tg.start_soon(self._enforce_grace, tg)
                tg.start_soon(self._fetch, source, send)
                if config.maintenance.enabled:
                    tg.start_soon(self._maintain, lander)
                await self._land_and_commit(receive, lander, source)
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # Callers handle one error: the first real one a stage raised (the others are its consequences).
            raise first_error(group) from None
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await source.stop()

    async def _land_and_commit(self, receive: MemoryObjectReceiveStream[_Chunk], lander: Lander, source: Source) -> None:
        """Three stages, each its own task: batching (here), preparing (validation), committing. The event loop
        keeps fetching and batching while a batch is validated, and the next batch is validated while the previous
        one commits (delta-rs writes without the GIL). One closed and one prepared batch wait at most.

        A contract error (freeze, threshold) stops batching and lets the loads prepared before it commit first.
        """
        closed_send, closed = anyio.create_memory_object_stream[_Closed](0)
        prepared_send, prepared = anyio.create_memory_object_stream[_Prepared](0)
        stopped_by: list[ContractStopError] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._commit_loop, prepared, lander, source)
            async with anyio.create_task_group() as batching:
                batching.start_soon(self._prepare_loop, closed, prepared_send, lander, batching, stopped_by)
                async with closed_send:
                    await self._land_loop(receive, closed_send)
        if stopped_by:
            raise stopped_by[0]

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                logger.info("received %s: flushing the open batch and stopping", signal.Signals(signum).name)
                self.request_stop()
                return

    async def _enforce_grace(self, tg: TaskGroup) -> None:
        await self._stop.wait()
        await anyio.sleep(self.config.shutdown_grace_seconds - _leave_budget(self.config.shutdown_grace_seconds))
        logger.error(
            "shutdown took longer than %.0fs: abandoning the open batch (not acknowledged; it is re-read on restart)",
            self.config.shutdown_grace_seconds,
        )
        tg.cancel_scope.cancel()

    async def _maintain(self, lander: Lander) -> None:
        maintainer = TableMaintainer(
            self.config.maintenance,
            [w.uri for w in lander.writers],
            storage_options=self.config.sink.storage_options,
        )
        # One member maintains: the owner of a partition 0 (the whole group when it is alone).
        await run_maintenance(
            maintainer, landing_lock=self._landing, is_maintainer=lambda: any(tp.partition == 0 for tp in self._owned)
        )

    async def _on_assigned(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int | None]:
        assert self._lander is not None  # noqa: S101 - set before the consumer starts
        # Under the landing lock: positions() may record an interrupted load in _loads, and the Lander's tables are
        # not for two threads at once.
        async with self._landing:
            positions = await anyio.to_thread.run_sync(self._lander.positions, partitions) if partitions else {}
            recovered = self._lander.take_recovered()
            self._batcher.assign(positions)
            self._owned |= partitions
            self._generation += 1
        if recovered:  # announced live (lineage), not only by `streamproc lineage backfill`
            await self._notify("on_recovered", recovered)
        await self._notify("on_assigned", partitions)
        return positions

    async def _on_revoked(self, partitions: set[TopicPartition]) -> None:
        # Waiting for the lock means an in-flight load of these partitions finishes before the new owner reads the
        # Delta log; what is still buffered is dropped and re-read by the new owner.
        async with self._landing:
            self._owned -= partitions
            self._generation += 1
            dropped = self._batcher.revoke(partitions)
            if dropped:
                logger.info("dropped %d buffered records of revoked partitions (not acknowledged)", dropped)
        await self._notify("on_revoked", partitions)

    async def _fetch(self, source: Source, send: MemoryObjectSendStream[_Chunk]) -> None:
        async with send:
            while not self._stop.is_set():
                chunks = await source.fetch(timeout_seconds=0.5)
                if chunks:
                    # Tagged before any await: the generation in which the consumer returned these records.
                    await send.send(_Fetched(self._generation, chunks))
                elif self.until_caught_up and await self._caught_up(source):
                    await send.send(_CAUGHT_UP)
                    return

    async def _caught_up(self, source: Source) -> bool:
        assigned = source.assignment()
        if not assigned:
            return False
        unknown = [tp for tp in assigned if tp not in self._end_offsets]
        if unknown:
            self._end_offsets.update(await source.end_offsets(unknown))
        positions = {tp: await source.position(tp) for tp in assigned}
        if any(positions[tp] < self._end_offsets[tp] for tp in assigned):
            return False
        logger.info(
            "caught up with the end offsets seen at start: %s",
            ", ".join(f"{tp.topic}[{tp.partition}]@{self._end_offsets[tp]}" for tp in sorted(assigned)),
        )
        return True

    async def _land_loop(
        self, receive: MemoryObjectReceiveStream[_Chunk], closed: MemoryObjectSendStream[_Closed]
    ) -> None:
        async with receive:
            while True:
                due = self._batcher.seconds_until_linger()
                chunk: _Chunk | None = None
                with anyio.move_on_after(math.inf if due is None else due):
                    try:
                        chunk = await receive.receive()
                    except anyio.EndOfStream:
                        await self._close(self._batcher.take("shutdown"), closed)
                        self.summary.stopped_by = "signal"
                        return
                if chunk is None:
                    await self._close(self._batcher.take("linger"), closed)
                elif isinstance(chunk, _CaughtUp):
                    await self._close(self._batcher.take("caught_up"), closed)
                    self.summary.stopped_by = "caught_up"
                    return
                elif chunk.generation == self._generation:
                    chunks = chunk.chunks
                    while chunks:
                        # self._owned is read again after each load: a rebalance may have revoked partitions.
                        reason, chunks = self._batcher.extend(chunks, owned=self._owned)
                        if reason is not None:
                            await self._close(self._batcher.take(reason), closed)

    async def _close(self, batch: MicroBatch | None, closed: MemoryObjectSendStream[_Closed]) -> None:
        """Hand a closed batch to the prepare loop (waits while the one before it is still being prepared)."""
        if batch is not None:
            await closed.send(_Closed(self._generation, batch))

    async def _prepare_loop(
        self,
        closed: MemoryObjectReceiveStream[_Closed],
        prepared: MemoryObjectSendStream[_Prepared],
        lander: Lander,
        batching: TaskGroup,
        stopped_by: list[ContractStopError],
    ) -> None:
        async with closed, prepared:
            async for item in closed:
                # One id for every attempt: a retry completes the load that a failed commit interrupted.
                prepare = functools.partial(lander.prepare, item.batch, load_id=uuid.uuid4().hex)
                try:
                    load = await anyio.to_thread.run_sync(prepare)
                except ContractStopError as exc:  # freeze, quarantine threshold: what came before still commits
                    stopped_by.append(exc)
                    prepared.close()
                    batching.cancel_scope.cancel()
                    return
                await prepared.send(_Prepared(item.generation, load))

    async def _commit_loop(self, prepared: MemoryObjectReceiveStream[_Prepared], lander: Lander, source: Source) -> None:
        async with prepared:
            async for item in prepared:
                await self._commit(item, lander, source)

    async def _commit(self, item: _Prepared, lander: Lander, source: Source) -> None:
        batch = item.load.batch
        async with self._landing:
            if item.generation != self._generation:
                # Prepared before a rebalance: every partition was re-sought to the Delta log's position since, so
                # these records come again (dropped as the batcher drops what it buffered; never acknowledged).
                logger.info("dropped a prepared load of %d records across a rebalance (not acknowledged)", len(batch))
                return
            commit = functools.partial(lander.commit, item.load)
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(StorageUnavailableError),
                wait=wait_exponential_jitter(multiplier=0.5, max=30),
                stop=lambda _state: self._stop.is_set(),
                before_sleep=self._before_retry,
                reraise=True,
            ):
                with attempt:
                    if self._retry_to_report is not None:
                        (error, failed_attempts), self._retry_to_report = self._retry_to_report, None
                        await self._notify("on_storage_retry", error, failed_attempts)
                    outcome = await anyio.to_thread.run_sync(commit)
        load = outcome.load
        await self._notify("on_load", outcome, batch)
        if not outcome.already_landed:
            self.summary.add(load, events=sum(r.last - r.first + 1 for r in load.offsets))
        for routed in outcome.routed:  # routing: one load per route's table, for the same events
            await self._notify("on_load", routed, batch)
            if not routed.already_landed:
                self.summary.add(routed.load, events=0)
        logger.info(
            "load %s (%s): %d landed, %d quarantined, offsets %s, table v%s",
            load.load_id[:12],
            batch.close_reason,
            load.rows_landed,
            load.rows_quarantined,
            ", ".join(f"{r.topic}[{r.partition}]@{r.first}-{r.last}" for r in load.offsets) or "already landed",
            load.delta_version,
        )
        # Outside the landing lock: a commit may wait for a rebalance that waits for that lock.
        with anyio.move_on_after(10):
            await source.commit(outcome.next_offsets)

    def _before_retry(self, state: RetryCallState) -> None:
        _log_retry(state)
        self._retry_to_report = (state.outcome.exception() if state.outcome else None, state.attempt_number)


def _leave_budget(grace_seconds: float) -> float:
    """Seconds of the grace period kept for leaving the group after an abandoned flush (5 s, at most a fifth)."""
    return min(5.0, grace_seconds / 5)



def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning(
        "storage unavailable (attempt %d), retrying in %.1fs; offsets are not committed: %s",
        state.attempt_number,
        state.next_action.sleep if state.next_action else 0.0,
        exc,
    )
