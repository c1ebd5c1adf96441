"""The one runner of ``streamproc run``, for every source: the pipelines, ``/metrics`` with the probes, consumer lag
sampling and SIGINT/SIGTERM.

```
 Runner.run ─► contracts load (a config or contract error stops here: nothing listens, no table is touched)
            ─► /metrics, /healthz, /readyz bound on observability.host:port (a taken port stops here, clearly)
            ─► the work, beside the endpoint, lag sampling and the signal watcher, in one task group:
                 Kafka or file source: one Pipeline
                 HTTP source: its endpoint, its write-ahead log and one Pipeline per target (runtime/http.py)
```

SIGINT/SIGTERM ask the work to stop gracefully (flush, commit, leave the group; the HTTP source first refuses new
requests and lands what its log holds). The endpoint is served until the work has ended, so ``/readyz`` reports the
stop. Every pipeline gets a :class:`~streamproc.observe.prometheus.PrometheusObserver`, a
:class:`~streamproc.observe.readiness.Readiness` and the OpenLineage observer ``lineage:`` asks for.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from typing import Protocol

import anyio

from streamproc.config import HttpSourceConfig, PipelineConfig
from streamproc.config.resolve import resolve_contracts
from streamproc.errors import first_error
from streamproc.observe.observer import PipelineObserver
from streamproc.observe.openlineage import lineage_observers
from streamproc.observe.prometheus import PrometheusObserver
from streamproc.observe.readiness import Readiness, ReadinessChecks
from streamproc.observe.summary import RunSummary
from streamproc.runtime.pipeline import Pipeline
from streamproc.runtime.serve import listen, serve_until

__all__ = ["Runner", "Work"]

logger = logging.getLogger(__name__)


class Work(Protocol):
    """What the runner runs: one pipeline, or the HTTP source's endpoint and pipelines."""

    @property
    def summary(self) -> RunSummary: ...

    @property
    def readiness(self) -> ReadinessChecks: ...

    @property
    def metrics(self) -> Sequence[PrometheusObserver]: ...

    async def run(self) -> RunSummary: ...

    def request_stop(self) -> None: ...

    def abort(self) -> None: ...


class _OnePipeline:
    """A Kafka or file source: one :class:`Pipeline` with its observers."""

    def __init__(self, pipeline: Pipeline, metrics: PrometheusObserver, readiness: Readiness) -> None:
        self.pipeline = pipeline
        self.metrics = (metrics,)
        self.readiness = readiness

    @property
    def summary(self) -> RunSummary:
        return self.pipeline.summary

    async def run(self) -> RunSummary:
        return await self.pipeline.run()

    def request_stop(self) -> None:
        self.pipeline.request_stop()

    def abort(self) -> None:
        self.pipeline.abort()


class Runner:
    """One ``streamproc run`` (see the module docstring).

    Lifecycle: construct → :meth:`run` once.

    Args:
        config: the pipeline config.
        until_caught_up: stop once every partition of the subscribed topics is landed up to the end offsets seen at
            start (the HTTP source: once each target landed what its log held at start).
        handle_signals: stop gracefully on SIGINT/SIGTERM (embedding code may want its own handling).
        observers: more observers of every pipeline, after its metrics, readiness and lineage ones.

    Attributes:
        port: the bound port of ``/metrics`` once serving (useful with ``port: 0``); ``None`` when disabled.
        work: what runs, once :meth:`run` built it.
    """

    def __init__(
        self,
        config: PipelineConfig,
        *,
        until_caught_up: bool = False,
        handle_signals: bool = True,
        observers: Sequence[PipelineObserver] = (),
    ) -> None:
        self.config = config
        self.until_caught_up = until_caught_up
        self.handle_signals = handle_signals
        self.observers = tuple(observers)
        self.port: int | None = None
        self.work: Work | None = None
        self.interrupted = False
        """A second signal cut the graceful stop short (``streamproc run`` exits 130)."""
        self._stop_requested = False
        self._summary = RunSummary(pipeline=config.name)

    @property
    def summary(self) -> RunSummary:
        """The run's totals (every pipeline's, for the HTTP source)."""
        return self.work.summary if self.work is not None else self._summary

    def request_stop(self) -> None:
        """Stop gracefully (what SIGINT/SIGTERM do)."""
        if self.work is not None:
            self.work.request_stop()

    def abort(self) -> None:
        """Stop at once (what a second SIGINT/SIGTERM does): :attr:`interrupted` is then set."""
        self.interrupted = True
        if self.work is not None:
            self.work.abort()

    async def run(self) -> RunSummary:
        """Run to the end: caught up (if asked), stopped, or an error.

        Returns:
            The run's summary.

        Raises:
            ConfigError: the config's contracts or routes are inconsistent.
            ContractError: a contract could not be loaded or registered.
            EndpointError: ``/metrics`` (or the HTTP source) cannot listen on its port.
            Whatever the pipelines raise (:meth:`Pipeline.run`), the first error, not an exception group.
        """
        self.work = work = await self._build()
        sock = None
        if self.config.observability.enabled:
            settings = self.config.observability
            try:
                sock = listen(
                    settings.host,
                    settings.port,
                    what="/metrics, /healthz and /readyz",
                    hint="another process (another pipeline on this host?) serves there: give each pipeline its own "
                    "observability.port (0 picks a free one), or set observability.enabled: false",
                    backlog=64,
                )
            except BaseException:
                work.summary.stopped_by = "error"  # the work never ran to set it: not the summary's default "signal"
                raise
            self.port = sock.getsockname()[1]
            logger.info("serving /metrics, /healthz and /readyz on http://%s:%d", settings.host, self.port)
        try:
            async with anyio.create_task_group() as tg:
                if sock is not None:
                    tg.start_soon(serve_until, _app(work.readiness), sock, anyio.Event())
                tg.start_soon(self._sample_lag, work.metrics)
                if self.handle_signals:
                    tg.start_soon(self._watch_signals)
                try:
                    summary = await work.run()
                finally:
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise first_error(group) from None
        finally:
            if sock is not None:
                sock.close()
        return summary

    async def _build(self) -> Work:
        """The work the config asks for, its contracts loaded (so that a wrong contract fails before anything
        listens or any table is touched)."""
        config = self.config
        if isinstance(config.source, HttpSourceConfig):
            from streamproc.runtime.http import HttpIngestion  # the endpoint's server only for an HTTP source

            return await HttpIngestion.open(config, until_caught_up=self.until_caught_up, observers=self.observers)
        contracts = await anyio.to_thread.run_sync(resolve_contracts, config)
        metrics, readiness = PrometheusObserver(), Readiness()
        pipeline = Pipeline(
            config,
            until_caught_up=self.until_caught_up,
            observers=[metrics, readiness, *lineage_observers(config), *self.observers],
            contracts=contracts,
        )
        return _OnePipeline(pipeline, metrics, readiness)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if self.interrupted:
                    continue  # already stopping at once
                if self._stop_requested:
                    logger.warning("received %s again: stopping at once", name)
                    self.abort()
                    continue
                self._stop_requested = True
                logger.info(
                    "received %s: stopping gracefully (landing what was fetched; Ctrl-C again stops at once, leaving "
                    "what is not landed to be re-read on restart)", name,
                )
                self.request_stop()

    async def _sample_lag(self, metrics: Sequence[PrometheusObserver]) -> None:
        while True:
            await anyio.sleep(self.config.observability.lag_interval_seconds)
            for observer in metrics:
                try:
                    await observer.sample_lag()
                except Exception:  # noqa: BLE001 - a metric never stops the run
                    logger.warning("sampling consumer lag failed", exc_info=True)


def _app(readiness: ReadinessChecks) -> object:
    from streamproc.observe.endpoint import create_app  # Starlette only when the endpoint is served

    return create_app(readiness)
