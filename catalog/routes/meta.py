"""Open endpoints: ``GET /healthz`` (database reachable, schema revision) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

__all__ = ["router"]

router = APIRouter(tags=["Meta"])


@router.get("/healthz")
def healthz(request: Request) -> dict[str, Any]:
    db = request.app.state.db
    return {"status": "ok", "database": db.dialect, "revision": db.current_revision()}


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    if not request.app.state.metrics.enabled:
        return Response("prometheus-client is not installed\n", status_code=404, media_type="text/plain")
    return Response(body, media_type=content_type)
