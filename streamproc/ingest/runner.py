"""``streamproc run`` for a pipeline with an HTTP source: the endpoint, and one pipeline per target landing it.

```
 HTTP (uvicorn) ─► Front ─► write-ahead log stream per target ─► WalSource ─► Pipeline (one per target) ─► Delta
                       └──► (gateway mode) Kafka topics, acks=all ─► other processes: streamproc run, Kafka source
```

Every target (the pipeline's own contract and each route's, see :mod:`streamproc.ingest.targets`) is a full
:class:`~streamproc.pipeline.Pipeline` with its own table, quarantine, metrics and OpenLineage job; they share the
process, the endpoint, ``/metrics`` and ``/readyz`` (ready when every pipeline is). Pipelines start one after another
(shared ``_loads`` and ``_contracts`` tables are created once); the endpoint answers ``503`` until every target's
stream knows its position from the Delta log.

Stopping (SIGTERM/SIGINT, :meth:`HttpRun.request_stop`, or any pipeline's end): the endpoint refuses new requests
(``503``) and answers those in flight; the pipelines fetch what the log holds (for up to half of
``shutdown_grace_seconds``), then land their open batches. What is in the log and not landed is landed by the next
run. With ``until_caught_up`` the run ends once each pipeline landed what its stream held at
start.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import socket
from collections.abc import Iterator

import anyio
import uvicorn

from streamproc.listen import listen
from streamproc.config import HttpSourceConfig, PipelineConfig
from streamproc.errors import ConfigError, SourceError, first_error
from streamproc.ingest.app import create_ingest_app
from streamproc.ingest.front import Front, LogWriter
from streamproc.ingest.gateway import KafkaWriter
from streamproc.ingest.targets import Router, resolve_targets
from streamproc.ingest.wal import WriteAheadLog
from streamproc.lineage.observer import lineage_observers
from streamproc.metrics_observer import PrometheusObserver
from streamproc.observability import Readiness, create_app
from streamproc.pipeline import Pipeline
from streamproc.sources.base import TopicPartition
from streamproc.sources.wal import WalSource
from streamproc.summary import RunSummary

__all__ = ["HttpRun"]

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the run owns SIGTERM/SIGINT and stops the server itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _AllReady:
    """``/readyz`` over every pipeline: ready when each is (joined, storage writable) and the endpoint accepts."""

    def __init__(self, readiness: list[Readiness], front: Front) -> None:
        self._readiness = readiness
        self._front = front

    @property
    def ready(self) -> bool:
        return all(r.ready for r in self._readiness) and self._front.accepting

    @property
    def partitions(self) -> set[TopicPartition]:
        return set().union(*(r.partitions for r in self._readiness))

    def checks(self) -> dict[str, bool]:
        return {
            "joined": all(r.joined for r in self._readiness),
            "storage_writable": all(r.storage_writable for r in self._readiness),
            "running": not any(r.stopping for r in self._readiness),
            "accepting": self._front.accepting,
        }


def _bind(host: str, port: int, *, what: str) -> socket.socket:
    try:
        return listen(host, port)
    except OSError as exc:
        raise SourceError(f"cannot listen for {what} on {host}:{port}: {exc.strerror or exc}") from exc


def _serve(app: object) -> _Server:
    return _Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off",  # type: ignore[arg-type]
                       timeout_graceful_shutdown=10)
    )


class HttpRun:
    """One ``streamproc run`` of a pipeline whose source is ``type: http`` (see the module docstring).

    Lifecycle: construct → :meth:`run` once.

    Attributes:
        port: the endpoint's bound port once serving (useful with ``port: 0``).
        pipelines: target name → its pipeline (empty in gateway mode).
        summary: the run's totals over every pipeline (``tables``: each target's table).
    """

    def __init__(self, config: PipelineConfig, *, until_caught_up: bool = False, handle_signals: bool = True) -> None:
        if not isinstance(config.source, HttpSourceConfig):
            raise ConfigError(f"pipeline {config.name}: HttpRun needs an HTTP source")
        self.config = config
        self.source: HttpSourceConfig = config.source
        self.until_caught_up = until_caught_up
        self.handle_signals = handle_signals
        self.port: int | None = None
        self.pipelines: dict[str, Pipeline] = {}
        self.summary = RunSummary(pipeline=config.name)
        self.serving = anyio.Event()
        self._stop = anyio.Event()
        self._errors: list[BaseException] = []
        self._done: dict[str, anyio.Event] = {}
        retry = math.ceil(config.batch.max_linger_seconds)
        self._retry_after = max(1, min(retry, 30))

    def request_stop(self) -> None:
        """Stop accepting requests, land what was fetched, and end the run."""
        self._stop.set()

    async def run(self) -> RunSummary:
        """Serve and land until stopped (or caught up). Returns the totals; raises the first pipeline error."""
        router = await anyio.to_thread.run_sync(resolve_targets, self.config)
        sock = _bind(self.source.host, self.source.port, what="the HTTP source")
        self.port = sock.getsockname()[1]
        try:
            if self.source.gateway is not None:
                await self._run_gateway(router, sock)
            else:
                await self._run_log(router, sock)
        except BaseExceptionGroup as group:
            raise first_error(group) from None
        finally:
            sock.close()
        if self._errors:
            raise self._errors[0]
        return self.summary

    def _public_url(self) -> str:
        if self.source.public_url:
            return self.source.public_url.rstrip("/")
        host = self.source.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        return f"http://{host}:{self.port}"

    async def _run_log(self, router: Router, sock: socket.socket) -> None:
        assert self.source.wal_dir is not None
        wal = await anyio.to_thread.run_sync(
            lambda: WriteAheadLog(self.source.wal_dir, segment_bytes=self.source.segment_bytes)  # type: ignore[arg-type]
        )
        try:
            logs = {
                name: await anyio.to_thread.run_sync(wal.stream, name, self.source.partition)
                for name in router.targets
            }
            writer = LogWriter(logs, max_unlanded_bytes=self.source.max_unlanded_bytes, retry_after=self._retry_after)
            front = Front(writer, retry_after=self._retry_after)
            sources = {
                name: WalSource(
                    logs[name],
                    stream=name,
                    partition=self.source.partition,
                    source_uri=f"{self._public_url()}/{name}",
                    appended=lambda name=name: writer.appended(name),  # type: ignore[misc]
                    fetch_max_records=self.source.fetch_max_records,
                )
                for name in router.targets
            }
            metrics, readiness = [], []
            for name, target in router.targets.items():
                observer, ready = PrometheusObserver(), Readiness()
                metrics.append(observer)
                readiness.append(ready)
                self.pipelines[name] = Pipeline(
                    target.config,
                    until_caught_up=self.until_caught_up,
                    handle_signals=False,
                    observers=[observer, ready, *lineage_observers(target.config)],
                    source=sources[name],
                )
            async with anyio.create_task_group() as tg:
                served = self._serve_around(tg, front, router, sock, _AllReady(readiness, front), metrics)
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
                for event in served:  # the requests in flight are answered (their events are durable)
                    await event.wait()
                await self._drain([sources[name] for name in started if not done[name].is_set()])
                for name in started:
                    self.pipelines[name].request_stop()
                for name in started:
                    await done[name].wait()
                tg.cancel_scope.cancel()  # the signal watcher and lag sampling
        finally:
            await anyio.to_thread.run_sync(wal.close)
            self._summarize(router)

    async def _drain(self, sources: list[WalSource]) -> None:
        """Let the pipelines fetch everything the log holds before they stop, for up to half the shutdown grace
        period (the rest is kept for landing the last batch). What is left is landed by the next run."""
        with anyio.move_on_after(self.config.shutdown_grace_seconds / 2):
            while any(s.unread for s in sources):
                await anyio.sleep(0.05)
        left = sum(s.unread for s in sources)
        if left:
            logger.warning("stopping with %d event(s) in the write-ahead log: the next run lands them", left)

    async def _run_gateway(self, router: Router, sock: socket.socket) -> None:
        assert self.source.gateway is not None
        writer = KafkaWriter(self.source.gateway, client_id=f"streamproc-{self.config.name}",
                             retry_after=self._retry_after)
        await writer.start(t.topic for t in router.targets.values() if t.topic)
        front = Front(writer, retry_after=self._retry_after)
        readiness = Readiness(joined=True, storage_writable=True)
        try:
            async with anyio.create_task_group() as tg:
                served = self._serve_around(tg, front, router, sock, _AllReady([readiness], front), [])
                front.accepting = True
                logger.info("gateway accepting events at %s → Kafka %s", self._public_url(),
                            ", ".join(str(t.topic) for t in router.targets.values()))
                await self._stop.wait()
                front.accepting, front.not_accepting_reason = False, "stopping"
                for event in served:
                    await event.wait()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await writer.stop()
            self.summary.stopped_by = "signal"
            self.summary.tables = {t.name: f"kafka://{self.source.gateway.bootstrap_servers}/{t.topic}"
                                   for t in router.targets.values()}

    def _serve_around(
        self,
        tg: anyio.abc.TaskGroup,
        front: Front,
        router: Router,
        sock: socket.socket,
        readiness: _AllReady,
        metrics: list[PrometheusObserver],
    ) -> list[anyio.Event]:
        """Start the endpoint, ``/metrics`` + probes, signals and lag sampling in ``tg``. The servers stop on
        :meth:`request_stop`; returns an event per server, set once it has finished its requests in flight."""
        served = [anyio.Event()]
        tg.start_soon(self._serve_until_stop, _serve(create_ingest_app(front, router, self.source)), sock, served[0])
        observability = self.config.observability
        if observability.enabled:
            try:
                obs_sock = _bind(observability.host, observability.port, what="/metrics")
            except SourceError as exc:
                logger.error("not serving /metrics, /healthz, /readyz: %s", exc)
            else:
                logger.info("serving /metrics, /healthz and /readyz on http://%s:%d", observability.host,
                            obs_sock.getsockname()[1])
                served.append(anyio.Event())
                tg.start_soon(self._serve_until_stop, _serve(create_app(readiness)), obs_sock, served[-1])  # type: ignore[arg-type]
        if self.handle_signals:
            tg.start_soon(self._watch_signals)
        if metrics:
            tg.start_soon(self._sample_lag, metrics)
        logger.info("HTTP source listening on %s:%d", self.source.host, self.port)
        self.serving.set()
        return served

    async def _serve_until_stop(self, server: _Server, sock: socket.socket, served: anyio.Event) -> None:
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                await self._stop.wait()
                server.should_exit = True  # uvicorn finishes the requests in flight, then returns
        finally:
            sock.close()
            served.set()

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

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                logger.info("received %s: refusing new requests, landing what was fetched", signal.Signals(signum).name)
                self.request_stop()
                return

    async def _sample_lag(self, metrics: list[PrometheusObserver]) -> None:
        while True:
            await anyio.sleep(self.config.observability.lag_interval_seconds)
            for observer in metrics:
                try:
                    await observer.sample_lag()
                except Exception:
                    logger.warning("sampling lag failed", exc_info=True)

    def _summarize(self, router: Router) -> None:
        total = self.summary
        for name, pipeline in self.pipelines.items():
            part = pipeline.summary
            total.rows_landed += part.rows_landed
            total.rows_quarantined += part.rows_quarantined
            total.events += part.events
            total.bytes += part.bytes
            total.loads += part.loads
            total.seconds = max(total.seconds, part.seconds)
            total.tables[name] = router.targets[name].config.sink.table_uri
        default = self.pipelines.get(router.default.name)
        total.stopped_by = "error" if self._errors else (default.summary.stopped_by if default else "signal")


async def _first_of(*events: anyio.Event) -> None:
    """Return once any of ``events`` is set."""
    async with anyio.create_task_group() as tg:
        for event in events:

            async def wait(event: anyio.Event = event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(wait)

