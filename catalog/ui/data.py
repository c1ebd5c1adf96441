"""JSON the pages' scripts fetch (session cookie, not the API token): the lineage graph and a column's lineage."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from catalog import query
from catalog.routes.deps import session
from catalog.ui.render import node_url
from catalog.ui.session import require_session_json

__all__ = ["router"]

router = APIRouter(prefix="/ui", dependencies=[Depends(require_session_json)], include_in_schema=False)
Direction = Literal["up", "down", "both"]


@router.get("/graph.json")
def graph(
    node: str | None = None,
    depth: int = Query(3, ge=1, le=20),
    direction: Direction = "both",
    s: Session = Depends(session),
) -> dict[str, Any]:
    """``catalog.query.graph`` with each node's page URL (``url``)."""
    found = query.graph(s, node, depth=depth, direction=direction)
    for n in found["nodes"]:
        n["url"] = node_url(n["id"])
    return found


@router.get("/column-lineage.json")
def column_lineage(
    dataset: str, field: str, direction: Direction = "both", s: Session = Depends(session)
) -> dict[str, Any]:
    """``catalog.query.column_lineage`` of ``field``, both ways by default."""
    return query.column_lineage(s, dataset, field, depth=20, direction=direction)
