"""``POST /api/v1/lineage``: accept one OpenLineage event (RunEvent, DatasetEvent or JobEvent) from any producer.

Bodies may be gzip-compressed (``Content-Encoding: gzip``, openlineage-python's ``compression: gzip``).

Responses: 201 ``{"status": "stored", "kind", "eventType"}``; 400 body not a JSON object; 422 invalid event
``{"code", "error": "invalid_event", "message", "errors": [{"loc", "msg", "type"}]}``; 401 missing/wrong token;
503 database unavailable.
"""

from __future__ import annotations

import gzip
import threading
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from catalog.auth import require_token
from catalog.errors import InvalidEventError, StorageError
from catalog.models import DatasetEvent, RunEvent
from catalog.storage.ingest import ingest_event
from catalog.validation import Event, parse_event

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(require_token)], tags=["OpenLineage"])
_write_lock = threading.Lock()  # one writer per process: events apply in arrival order, no upsert races


def _store(request: Request, event: Event, payload: dict[str, Any]) -> None:
    db = request.app.state.db
    with _write_lock:
        for attempt in (1, 2):  # another replica may insert the same namespace/dataset concurrently
            try:
                with db.session() as session:
                    ingest_event(session, event, payload)
                return
            except StorageError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, IntegrityError):
                    raise


@router.post(
    "/api/v1/lineage",
    status_code=201,
    summary="Record one OpenLineage event",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "An OpenLineage RunEvent, DatasetEvent or JobEvent (spec 2-0-x)",
                    }
                }
            },
        }
    },
)
async def post_lineage(request: Request) -> JSONResponse:
    metrics = request.app.state.metrics
    try:
        body = await request.body()
        if request.headers.get("content-encoding", "").lower() == "gzip":  # openlineage-python `compression: gzip`
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as exc:
                raise InvalidEventError(f"the body is not valid gzip: {exc}", status=400) from exc
        event, payload = parse_event(body, json_schema=request.app.state.json_schema)
    except InvalidEventError as exc:
        metrics.rejected_event(exc.status)
        raise
    await anyio.to_thread.run_sync(_store, request, event, payload)
    kind = "run" if isinstance(event, RunEvent) else "dataset" if isinstance(event, DatasetEvent) else "job"
    event_type = event.event_type if isinstance(event, RunEvent) else None
    metrics.event(kind, event_type)
    return JSONResponse({"status": "stored", "kind": kind, "eventType": event_type}, status_code=201)
