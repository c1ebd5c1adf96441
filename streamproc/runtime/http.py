"""``streamproc run`` of a pipeline with an HTTP source: its endpoint, and one pipeline per target landing it.

```
 HTTP (uvicorn) ─► Front ─► write-ahead log stream per target ─► WalSource ─► Pipeline (one per target) ─► Delta
                       └──► (gateway mode) Kafka topics, acks=all ─► other processes: streamproc run, Kafka source
```

The runner (runtime/runner.py) runs it like a single pipeline: it serves ``/metrics`` and the probes, samples lag and
watches signals. Every target (the pipeline's own contract and each route's, see :mod:`streamproc.sources.http.
targets`) is a full :class:`~streamproc.runtime.pipeline.Pipeline` with its own table, quarantine, metrics and
OpenLineage job; they share the process, the endpoint, ``/metrics`` and ``/readyz`` (ready when every pipeline is
and the endpoint accepts). Pipelines start one after another (shared ``_loads`` and ``_contracts`` tables are created
once); the endpoint answers ``503`` until every target's stream knows its position from the Delta log.

Stopping (:meth:`HttpIngestion.request_stop`, or any pipeline's end): the endpoint refuses new requests (``503``)
and answers those in flight; the pipelines fetch what the log holds (for up to half of ``shutdown_grace_seconds``),
then land their open batches. What is in the log and not landed is landed by the next run. With
``until_caught_up`` the run ends once each pipeline landed what its stream held at start.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Mapping, Sequence

import anyio

from streamproc.config import HttpSourceConfig, PipelineConfig
from streamproc.errors import ConfigError, first_error
from streamproc.observe.observer import PipelineObserver
from streamproc.observe.openlineage import lineage_observers
from streamproc.observe.prometheus import PrometheusObserver
from streamproc.observe.readiness import AllReady, Readiness
from streamproc.observe.summary import RunSummary
from streamproc.runtime.pipeline import Pipeline
from streamproc.runtime.serve import listen, serve_until
from streamproc.sources.http.app import create_ingest_app
from streamproc.sources.http.front import Front, LogWriter
from streamproc.sources.http.gateway import KafkaWriter
from streamproc.sources.http.stream import WalSource
from streamproc.sources.http.targets import Router, resolve_targets
from streamproc.sources.http.wal import WriteAheadLog

__all__ = ["HttpIngestion"]

logger = logging.getLogger(__name__)


class HttpIngestion:
    """The work of a ``streamproc run`` whose source is ``type: http`` (see the module docstring).

    Lifecycle: :meth:`open` (resolves the targets' contracts, binds the endpoint's port) → :meth:`run` once.

    Attributes:
        port: the endpoint's bound port (useful with ``port: 0``).
        pipelines: target name → its pipeline (empty in gateway mode).
        summary: the run's totals over every pipeline (``tables``: each target's table; ``targets``: each one's own
            totals and tables).
        readiness: ``/readyz`` over every pipeline and the endpoint.
        metrics: each pipeline's metrics observer (the runner samples their lag).
        serving: set once the endpoint serves.
    """

    def __init__(
        self,
        config: PipelineConfig,
        router: Router,
        sock: socket.socket,
        *,
        until_caught_up: bool,
        observers: Sequence[PipelineObserver] = (),
        lineage: Mapping[str, Sequence[PipelineObserver]] | None = None,
    ) -> None:
        if not isinstance(config.source, HttpSourceConfig):
            raise ConfigError(f"pipeline {config.name}: HttpIngestion needs an HTTP source")
        self.config = config
        self.source: HttpSourceConfig = config.source
        self.router = router
        self.until_caught_up = until_caught_up
        self.observers = tuple(observers)
        # target name → its OpenLineage observers, made by open(); a target without is given them at start
        self._lineage = dict(lineage) if lineage is not None else None
        self.port: int = sock.getsockname()[1]
        self.pipelines: dict[str, Pipeline] = {}
        self.summary = RunSummary(pipeline=config.name)
        self.serving = anyio.Event()
        self.metrics: list[PrometheusObserver] = []
        self._sock = sock
        self._front: Front | None = None
        self._readiness: list[Readiness] = []
        self.readiness = AllReady(self._readiness, extra={"accepting": lambda: self._front is not None and self._front.accepting})
        self._stop = anyio.Event()
        self._aborted = False
        self._errors: list[BaseException] = []
        self._done: dict[str, anyio.Event] = {}
        self._retry_after = max(1, min(math.ceil(config.batch.max_linger_seconds), 30))

    @classmethod
    async def open(
        cls, config: PipelineConfig, *, until_caught_up: bool = False, observers: Sequence[PipelineObserver] = ()
    ) -> HttpIngestion:
        """Resolve the targets (importing their contracts) and bind the endpoint's port.

        Raises:
            ConfigError: the source is not HTTP, two routes give one table two contracts, or ``lineage:`` is
                enabled while no OpenLineage transport is configured.
            ContractError: a contract cannot be imported.
            EndpointError: the port cannot be bound.
        """
        if not isinstance(config.source, HttpSourceConfig):
            raise ConfigError(f"pipeline {config.name}: not an HTTP source")
        router = await anyio.to_thread.run_sync(resolve_targets, config)
        # Each target's OpenLineage observers before the port is bound: one that cannot send (no transport
        # configured) refuses the run here, not after the write-ahead log was opened. Gateway mode lands nothing.
        lineage = None
        if config.source.gateway is None:
            lineage = {name: lineage_observers(target.config) for name, target in router.targets.items()}
        sock = listen(config.source.host, config.source.port, what="the HTTP source",
                      hint="give this pipeline another source.port (0 picks a free one)")
        return cls(config, router, sock, until_caught_up=until_caught_up, observers=observers, lineage=lineage)

    def request_stop(self) -> None:
        """Stop accepting requests, land what was fetched, and end the run."""
        self._stop.set()

    def abort(self) -> None:
        """Stop at once (a second SIGINT): no more draining of the write-ahead log, every pipeline aborted; what is
        not landed stays in the log (or in Kafka) for the next run."""
        self._aborted = True
        self._stop.set()
        for pipeline in self.pipelines.values():
            pipeline.abort()

    async def run(self) -> RunSummary:
        """Serve and land until stopped (or caught up). Returns the totals; raises the first pipeline error."""
        try:
            if self.source.gateway is not None:
                await self._run_gateway()
            else:
                await self._run_log()
        except BaseExceptionGroup as group:
            raise first_error(group) from None
        finally:
            self._sock.close()
        if self._errors:
            raise self._errors[0]
        return self.summary

    def _lineage_of(self, name: str, config: PipelineConfig) -> Sequence[PipelineObserver]:
        if self._lineage is not None and name in self._lineage:
            return self._lineage[name]
        return lineage_observers(config)

    def _public_url(self) -> str:
        if self.source.public_url:
            return self.source.public_url.rstrip("/")
        host = self.source.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        return f"http://{host}:{self.port}"

    async def _run_log(self) -> None:
        router, source = self.router, self.source
        wal_dir = source.wal_dir
        if wal_dir is None:  # the config requires it without a gateway
            raise ConfigError(f"pipeline {self.config.name}: the HTTP source needs a wal_dir")
        wal = await anyio.to_thread.run_sync(lambda: WriteAheadLog(wal_dir, segment_bytes=source.segment_bytes))
        try:
            logs = {name: await anyio.to_thread.run_sync(wal.stream, name, source.partition) for name in router.targets}
            writer = LogWriter(logs, max_unlanded_bytes=source.max_unlanded_bytes, retry_after=self._retry_after)
            self._front = front = Front(writer, retry_after=self._retry_after)
            sources = {
                name: WalSource(
                    logs[name],
                    stream=name,
                    partition=source.partition,
                    source_uri=f"{self._public_url()}/{name}",
                    appended=lambda name=name: writer.appended(name),  # type: ignore[misc]
                    fetch_max_records=source.fetch_max_records,
                )
                for name in router.targets
            }
            for name, target in router.targets.items():
                metrics, ready = PrometheusObserver(), Readiness()
                self.metrics.append(metrics)
                self._readiness.append(ready)
                self.pipelines[name] = Pipeline(
                    target.config,
                    until_caught_up=self.until_caught_up,
                    observers=[metrics, ready, *self._lineage_of(name, target.config), *self.observers],
                    source=sources[name],
                    contracts=target.contracts,
                )
            async with anyio.create_task_group() as tg:
                served = self._serve(tg, front)
                self._done = done = {name: anyio.Event() for name in self.pipelines}
                started: list[str] = []
                for name, pipeline in self.pipelines.items():  # one after another: shared tables are made once
                    tg.start_soon(self._run_pipeline, pipeline, done[name])
                    started.append(name)
                    tg.start_soon(self._stop_when, done[name])
                    await _first_of(sources[name].started, done[name], self._stop)
                    if self._stop.is_set() or not sources[name].started.is_set():
                        break  # stopping, or the pipeline failed before it started
                else:
                    front.accepting = True
                    logger.info("accepting events at %s for %s", self._public_url(), ", ".join(router.targets))
                await self._stop.wait()
                front.accepting, front.not_accepting_reason = False, "stopping"
                await served.wait()  # the requests in flight are answered (their events are durable)
                await self._drain([sources[name] for name in started if not done[name].is_set()])
                for name in started:
                    self.pipelines[name].request_stop()
                for name in started:
                    await done[name].wait()
        finally:
            await anyio.to_thread.run_sync(wal.close)
            self._summarize()

    async def _drain(self, sources: list[WalSource]) -> None:
        """Let the pipelines fetch everything the log holds before they stop, for up to half the shutdown grace
        period (the rest is kept for landing the last batch). What is left is landed by the next run."""
        with anyio.move_on_after(self.config.shutdown_grace_seconds / 2):
            while not self._aborted and any(s.unread for s in sources):
                await anyio.sleep(0.05)
        left = sum(s.unread for s in sources)
        if left:
            logger.warning("stopping with %d event(s) in the write-ahead log: the next run lands them", left)

    async def _run_gateway(self) -> None:
        gateway = self.source.gateway
        assert gateway is not None  # noqa: S101 - the caller checked
        router = self.router
        writer = KafkaWriter(gateway, client_id=f"streamproc-{self.config.name}", retry_after=self._retry_after)
        await writer.start(t.topic for t in router.targets.values() if t.topic)
        self._front = front = Front(writer, retry_after=self._retry_after)
        self._readiness.append(Readiness(joined=True, storage_writable=True))
        try:
            async with anyio.create_task_group() as tg:
                served = self._serve(tg, front)
                front.accepting = True
                logger.info("gateway accepting events at %s → Kafka %s", self._public_url(),
                            ", ".join(str(t.topic) for t in router.targets.values()))
                await self._stop.wait()
                front.accepting, front.not_accepting_reason = False, "stopping"
                await served.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await writer.stop()
            self.summary.stopped_by = "signal"
            self.summary.tables = {t.name: f"kafka://{gateway.bootstrap_servers}/{t.topic}"
                                   for t in router.targets.values()}

    def _serve(self, tg: anyio.abc.TaskGroup, front: Front) -> anyio.Event:
        """Serve the endpoint in ``tg`` until :meth:`request_stop`; returns an event set once the requests in
        flight are answered."""
        served = anyio.Event()

        async def serve() -> None:
            try:
                await serve_until(create_ingest_app(front, self.router, self.source), self._sock, self._stop)
            finally:
                served.set()

        tg.start_soon(serve)
        logger.info("HTTP source listening on %s:%d", self.source.host, self.port)
        self.serving.set()
        return served

    async def _run_pipeline(self, pipeline: Pipeline, done: anyio.Event) -> None:
        try:
            await pipeline.run()
        except Exception as exc:
            logger.error("pipeline %s failed: %s", pipeline.config.name, exc)
            self._errors.append(exc)
        finally:
            done.set()

    async def _stop_when(self, done: anyio.Event) -> None:
        """A pipeline's end ends the run: any error, or any end when running until stopped; with
        ``until_caught_up``, the last pipeline to catch up."""
        await done.wait()
        if self._errors or not self.until_caught_up or all(e.is_set() for e in self._done.values()):
            self._stop.set()

    def _summarize(self) -> None:
        total = self.summary
        for name, pipeline in self.pipelines.items():
            total.add_target(name, pipeline.summary)
            total.tables[name] = self.router.targets[name].config.sink.table_uri
        default = self.pipelines.get(self.router.default.name)
        total.stopped_by = "error" if self._errors else (default.summary.stopped_by if default else "signal")


async def _first_of(*events: anyio.Event) -> None:
    """Return once any of ``events`` is set."""
    async with anyio.create_task_group() as tg:
        for event in events:

            async def wait(event: anyio.Event = event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(wait)
