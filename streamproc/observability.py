"""The process's HTTP endpoint for Prometheus and Kubernetes probes, served beside the pipeline in its event loop.

=========== ================================================================================================
path        answer
=========== ================================================================================================
``/metrics`` the Prometheus exposition of :mod:`streamproc.metrics` plus process metrics (text or OpenMetrics, by the
            ``Accept`` header; gzip when asked)
``/healthz`` ``200 {"status": "alive"}`` while the event loop answers (liveness: a stuck loop fails it)
``/readyz``  ``200`` once the consumer joined its group (it was assigned partitions, or none when the group has more
            members than partitions) and the last Delta commit succeeded; ``503`` with the failing checks before, while
            a load is being retried on storage errors, and while shutting down
=========== ================================================================================================

Served by uvicorn (a Starlette app) inside the pipeline's process and event loop, on ``observability.host:port``.
A port that cannot be bound is logged and the pipeline runs without the endpoint: metrics never stop landing.

Example::

    observability = Observability(config.observability)
    pipeline = Pipeline(config, observers=observability.observers)
    summary = anyio.run(observability.run, pipeline)
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from streamproc.errors import first_error
from streamproc.listen import listen
from streamproc.config import ObservabilityConfig
from streamproc.metrics_observer import PrometheusObserver
from streamproc.observers import PipelineObserver, RunInfo
from streamproc.pipeline import Pipeline
from streamproc.sources.base import TopicPartition
from streamproc.summary import RunSummary

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

# uvicorn and Starlette (~6 MiB resident) are imported only when the endpoint is served (observability.enabled).

__all__ = ["Observability", "Readiness", "create_app"]

logger = logging.getLogger(__name__)


@dataclass
class Readiness(PipelineObserver):
    """The ``/readyz`` checks, kept current by the run's hooks.

    Attributes:
        joined: the consumer joined its group (``on_assigned`` was called, possibly with no partitions).
        storage_writable: the tables opened and the last load committed (``False`` from a storage retry until the
            next successful load).
        stopping: the run is ending (``on_stop``).
    """

    joined: bool = False
    storage_writable: bool = False
    stopping: bool = False
    partitions: set[TopicPartition] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.joined and self.storage_writable and not self.stopping

    def checks(self) -> dict[str, bool]:
        return {"joined": self.joined, "storage_writable": self.storage_writable, "running": not self.stopping}

    async def on_start(self, run: RunInfo) -> None:
        self.storage_writable = True

    async def on_assigned(self, partitions: set[TopicPartition]) -> None:
        self.joined = True
        self.partitions |= partitions

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        self.partitions -= partitions

    async def on_load(self, outcome: object, batch: object) -> None:
        self.storage_writable = True

    async def on_storage_retry(self, error: BaseException, attempt: int) -> None:
        self.storage_writable = False

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        self.stopping = True


def create_app(readiness: Readiness) -> Starlette:
    """The ASGI app serving ``/metrics``, ``/healthz`` and ``/readyz`` (see the module docstring)."""
    from prometheus_client import REGISTRY
    from prometheus_client.exposition import choose_encoder
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(REGISTRY), headers={"Content-Type": content_type})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> Response:
        body = {
            "status": "ready" if readiness.ready else "not ready",
            "checks": readiness.checks(),
            "partitions": [f"{tp.topic}[{tp.partition}]" for tp in sorted(readiness.partitions)],
        }
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    routes = [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=1000)])


def _embedded_server(app: Starlette) -> uvicorn.Server:
    """A uvicorn server for ``app`` without its signal handlers: the pipeline owns SIGTERM/SIGINT (flush, commit,
    leave the group), and this server is stopped by :meth:`Observability.run` (``should_exit``) when the run ends."""
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return EmbeddedServer(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off")
    )


class Observability:
    """Metrics and probes for one pipeline run: the observers to pass to :class:`Pipeline`, and :meth:`run`, which
    serves the endpoint and samples consumer lag while the pipeline runs.

    Lifecycle: construct → pass :attr:`observers` to one ``Pipeline`` → :meth:`run` it once.
    """

    def __init__(self, config: ObservabilityConfig) -> None:
        self.config = config
        self.metrics = PrometheusObserver()
        self.readiness = Readiness()
        self.port: int | None = None
        """The bound port once serving (useful with ``port: 0``)."""

    @property
    def observers(self) -> list[PipelineObserver]:
        return [self.metrics, self.readiness]

    async def run(self, pipeline: Pipeline) -> RunSummary:
        """Run ``pipeline`` to its end while serving the endpoint (if enabled) and sampling lag.

        Returns:
            The pipeline's summary.

        Raises:
            Whatever :meth:`Pipeline.run` raises (the first error, not wrapped in an exception group).
        """
        sock = self._bind() if self.config.enabled else None
        server: uvicorn.Server | None = None
        try:
            async with anyio.create_task_group() as tg:
                if sock is not None:
                    server = _embedded_server(create_app(self.readiness))
                    tg.start_soon(server.serve, [sock])
                tg.start_soon(self._sample_lag)
                try:
                    return await pipeline.run()
                finally:
                    if server is not None:
                        server.should_exit = True
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise first_error(group) from None
        finally:
            if sock is not None:
                sock.close()

    def _bind(self) -> socket.socket | None:
        host, port = self.config.host, self.config.port
        try:
            sock = listen(host, port, backlog=64)
        except OSError as exc:
            logger.error("not serving /metrics, /healthz, /readyz: cannot listen on %s:%d: %s", host, port,
                         exc.strerror or exc)
            return None
        self.port = sock.getsockname()[1]
        logger.info("serving /metrics, /healthz and /readyz on http://%s:%d", host, self.port)
        return sock

    async def _sample_lag(self) -> None:
        while True:
            await anyio.sleep(self.config.lag_interval_seconds)
            try:
                await self.metrics.sample_lag()
            except Exception:  # noqa: BLE001 - a metric never stops the run
                logger.warning("sampling consumer lag failed", exc_info=True)

