"""Marquez-compatible read endpoints (shapes in ``catalog.marquez``); the list is in ``catalog/README.md``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from catalog import marquez
from catalog.auth import require_token
from catalog.routes.deps import session

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], tags=["Marquez-compatible"])
Limit = Query(100, ge=1, le=10000)
Offset = Query(0, ge=0)


@router.get("/namespaces")
def namespaces(limit: int = Limit, offset: int = Offset, s: Session = Depends(session)) -> dict[str, Any]:
    return marquez.namespaces(s, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/datasets")
def datasets(namespace: str, limit: int = Limit, offset: int = Offset, s: Session = Depends(session)) -> dict[str, Any]:
    return marquez.datasets(s, namespace, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/datasets/{dataset:path}/versions")
def dataset_versions(
    namespace: str, dataset: str, limit: int = Limit, offset: int = Offset, s: Session = Depends(session)
) -> dict[str, Any]:
    return marquez.dataset_versions(s, namespace, dataset, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/datasets/{dataset:path}")
def dataset(namespace: str, dataset: str, s: Session = Depends(session)) -> dict[str, Any]:
    return marquez.dataset(s, namespace, dataset)


@router.get("/namespaces/{namespace:path}/jobs")
def jobs(namespace: str, limit: int = Limit, offset: int = Offset, s: Session = Depends(session)) -> dict[str, Any]:
    return marquez.jobs(s, namespace, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/jobs/{job}/runs")
def runs(
    namespace: str, job: str, limit: int = Limit, offset: int = Offset, s: Session = Depends(session)
) -> dict[str, Any]:
    return marquez.runs(s, namespace, job, limit=limit, offset=offset)


@router.get("/namespaces/{namespace:path}/jobs/{job}")
def job(namespace: str, job: str, s: Session = Depends(session)) -> dict[str, Any]:
    return marquez.job(s, namespace, job)


@router.get("/lineage")
def lineage(
    node_id: str = Query(alias="nodeId"), depth: int = Query(20, ge=0, le=100), s: Session = Depends(session)
) -> dict[str, Any]:
    return marquez.lineage_graph(s, node_id, depth=depth)


@router.get("/column-lineage")
def column_lineage(
    node_id: str = Query(alias="nodeId"),
    depth: int = Query(20, ge=1, le=100),
    with_downstream: bool = Query(False, alias="withDownstream"),
    s: Session = Depends(session),
) -> dict[str, Any]:
    return marquez.column_lineage_graph(s, node_id, depth=depth, with_downstream=with_downstream)


@router.get("/search")
def search(
    q: str,
    filter: Literal["dataset", "job", "DATASET", "JOB"] | None = None,
    sort: Literal["name", "updated_at", "NAME", "UPDATED_AT"] = "name",
    limit: int = Query(10, ge=1, le=1000),
    s: Session = Depends(session),
) -> dict[str, Any]:
    return marquez.search(s, q, filter=filter, sort=sort.lower(), limit=limit)


@router.get("/tags")
def tags(limit: int = Limit, offset: int = Offset, s: Session = Depends(session)) -> dict[str, Any]:
    return marquez.tags(s, limit=limit, offset=offset)


@router.get("/events/lineage")
def events(
    before: datetime | None = None,
    after: datetime | None = None,
    sort_direction: Literal["asc", "desc"] = Query("desc", alias="sortDirection"),
    limit: int = Limit,
    offset: int = Offset,
    s: Session = Depends(session),
) -> dict[str, Any]:
    return marquez.events(s, before=before, after=after, sort_direction=sort_direction, limit=limit, offset=offset)
