"""The process's HTTP endpoint for Prometheus and Kubernetes probes (a Starlette app), served by the runner.

=========== ================================================================================================
path        answer
=========== ================================================================================================
``/metrics`` the Prometheus exposition of :mod:`streamproc.observe.metrics` plus process metrics (text or
            OpenMetrics, by the ``Accept`` header; gzip when asked)
``/healthz`` ``200 {"status": "alive"}`` while the event loop answers (liveness: a stuck loop fails it)
``/readyz``  ``200`` once the consumer joined its group (it was assigned partitions, or none when the group has more
            members than partitions) and the last Delta commit succeeded; ``503`` with the failing checks before, while
            a load is being retried on storage errors, and while shutting down
=========== ================================================================================================

Served by uvicorn inside the pipeline's process and event loop, on ``observability.host:port``
(:class:`streamproc.runtime.runner.Runner`). Starlette is imported only when the endpoint is served
(``observability.enabled``): ~6 MiB resident that a run without it does not pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamproc.observe.readiness import ReadinessChecks

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["create_app"]


def create_app(readiness: ReadinessChecks) -> Starlette:
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
