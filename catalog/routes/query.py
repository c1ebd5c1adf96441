"""The catalog's own JSON query API under ``/api/v1/catalog`` (shapes documented in ``catalog.query``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy.orm import Session

from catalog import query
from catalog.auth import require_token
from catalog.query.quarantine import quarantine as quarantine_of
from catalog.routes.deps import session

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/catalog", dependencies=[Depends(require_token)], tags=["Catalog query API"])
Direction = Literal["up", "down", "both"]


@router.get("/lineage", summary="Lineage graph of a dataset or job")
def lineage(
    dataset: str = Query(
        description="dataset:<ns>:<name>, <ns>:<name>, table:<name>, topic:<name>, a name (a symlink name first), "
        "or job:<ns>:<name>"
    ),
    depth: int = Query(5, ge=0, le=100),
    direction: Direction = "both",
    s: Session = Depends(session),
) -> dict[str, Any]:
    return query.lineage(s, dataset, depth=depth, direction=direction)


@router.get("/column-lineage", summary="Column lineage of one field")
def column_lineage(
    dataset: str,
    field: str,
    depth: int = Query(10, ge=1, le=100),
    direction: Direction = "up",
    s: Session = Depends(session),
) -> dict[str, Any]:
    return query.column_lineage(s, dataset, field, depth=depth, direction=direction)


@router.get("/schema-history", summary="Schema versions of a dataset with diffs")
def schema_history(dataset: str, s: Session = Depends(session)) -> dict[str, Any]:
    return query.schema_history(s, dataset)


@router.get("/pii", summary="PII inventory: which datasets and columns carry which tags")
def pii(tag: str | None = None, s: Session = Depends(session)) -> dict[str, Any]:
    return query.pii(s, tag=tag)


@router.get("/loads", summary="Loads of a dataset, or the load that landed a Kafka offset")
def loads(
    dataset: str | None = None,
    topic: str | None = None,
    partition: int | None = Query(None, ge=0),
    offset: int | None = Query(None, ge=0),
    s: Session = Depends(session),
) -> dict[str, Any]:
    if topic is not None and partition is not None and offset is not None:
        return query.loads_for_offset(s, topic=topic, partition=partition, offset=offset)
    if dataset is not None:
        return query.loads(s, dataset)
    raise HTTPException(400, "give `dataset`, or all of `topic`, `partition` and `offset`")


@router.get("/quarantine", summary="A table's quarantine: rejected events by violation and by replay state, samples")
def quarantine(
    request: Request,
    dataset: str = Query(description="the table, or its quarantine table (as for `lineage`)"),
    samples: int = Query(20, ge=0, le=1000, description="newest rejected events returned"),
    s: Session = Depends(session),
) -> dict[str, Any]:
    """Reads the quarantine Delta table and the resolutions of its replays beside it (``CATALOG_LAKE_STORAGE_OPTIONS``
    for object stores); the shape is ``catalog.query.quarantine.quarantine``'s, as the UI's quarantine page shows it."""
    return quarantine_of(s, dataset, storage_options=request.app.state.settings.lake_storage_options, samples=samples)


@router.get("/search", summary="Datasets and jobs by name")
def search(q: str, limit: int = Query(50, ge=1, le=1000), s: Session = Depends(session)) -> dict[str, Any]:
    return query.search(s, q, limit=limit)
