"""Lineage queries: the job/dataset graph around a node, and the column lineage of one field."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.storage import tables as t
from catalog.storage.reads import (
    Direction,
    current_fields,
    dataset_id,
    job_id,
    namespace_name,
    resolve_dataset,
    resolve_node,
    walk,
)

__all__ = ["column_lineage", "lineage"]


def lineage(session: Session, ref: str, *, depth: int = 5, direction: Direction = "both") -> dict[str, Any]:
    """Lineage graph around a dataset (or a job, ``job:<ns>:<name>``).

    Returns:
        ``{"root": id, "depth", "direction", "nodes": [{"id", "type": "DATASET"|"JOB", "namespace", "name",
        "distance"}], "edges": [{"origin", "destination"}]}``; an edge means data flows origin → destination.
    """
    start = resolve_node(session, ref)
    graph = walk(session, start, depth=depth, direction=direction)
    ids: dict[tuple[str, int], str] = {}
    nodes = []
    for key, distance in sorted(graph.nodes.items(), key=lambda item: (item[1], item[0])):
        row: t.Dataset | t.Job = session.get_one(t.Dataset if key[0] == "dataset" else t.Job, key[1])
        node_id = dataset_id(session, row) if key[0] == "dataset" else job_id(session, row)  # type: ignore[arg-type]
        ids[key] = node_id
        nodes.append(
            {
                "id": node_id,
                "type": key[0].upper(),
                "namespace": namespace_name(session, row.namespace_id),
                "name": row.name,
                "distance": distance,
            }
        )
    edges = sorted((ids[a], ids[b]) for a, b in graph.edges)
    return {
        "root": ids[start],
        "depth": depth,
        "direction": direction,
        "nodes": nodes,
        "edges": [{"origin": a, "destination": b} for a, b in edges],
    }


def column_lineage(
    session: Session, ref: str, field: str, *, depth: int = 10, direction: Direction = "up"
) -> dict[str, Any]:
    """Where a column comes from (``up``), where it goes (``down``), or both, through ``columnLineage`` facets.

    Returns:
        ``{"root": "datasetField:<ns>:<name>:<field>", "nodes": [{"id", "namespace", "dataset", "field",
        "distance"}], "edges": [{"origin", "destination", "transformationType", "transformationDescription"}]}``.

    Raises:
        NotFoundError: the dataset has no such field and appears in no column lineage.
    """
    dataset = resolve_dataset(session, ref)
    rows = session.scalars(select(t.ColumnLineage).where(t.ColumnLineage.field.is_not(None))).all()
    _, fields = current_fields(session, dataset)
    start = (dataset.id, field)
    known = {f.name for f in fields} | {r.field for r in rows if r.dataset_id == dataset.id}
    known |= {r.input_field for r in rows if r.input_dataset_id == dataset.id}
    if field not in known:
        raise NotFoundError(f"{dataset.name!r} has no field {field!r}")
    seen = {start: 0}
    edges: dict[tuple[Any, Any], t.ColumnLineage] = {}
    frontier = [start]
    for distance in range(1, depth + 1):
        nxt = []
        for ds_id, name in frontier:
            for r in rows:
                pairs = []
                if direction in ("up", "both") and (r.dataset_id, r.field) == (ds_id, name):
                    pairs.append(
                        ((r.input_dataset_id, r.input_field), (ds_id, name), (r.input_dataset_id, r.input_field))
                    )
                if direction in ("down", "both") and (r.input_dataset_id, r.input_field) == (ds_id, name):
                    pairs.append(((ds_id, name), (r.dataset_id, r.field), (r.dataset_id, r.field)))
                for origin, dest, other in pairs:
                    edges[(origin, dest)] = r
                    if other not in seen:
                        seen[other] = distance
                        nxt.append(other)
        frontier = nxt
    label: dict[tuple[int, str], str] = {}
    nodes = []
    for (ds_id, name), distance in sorted(seen.items(), key=lambda item: item[1]):
        ds = session.get_one(t.Dataset, ds_id)
        ns = namespace_name(session, ds.namespace_id)
        label[(ds_id, name)] = f"datasetField:{ns}:{ds.name}:{name}"
        nodes.append(
            {"id": label[(ds_id, name)], "namespace": ns, "dataset": ds.name, "field": name, "distance": distance}
        )
    return {
        "root": label[start],
        "nodes": nodes,
        "edges": [
            {
                "origin": label[a],
                "destination": label[b],
                "transformationType": r.transformation_type,
                "transformationDescription": r.transformation_description,
            }
            for (a, b), r in sorted(edges.items(), key=lambda item: (label[item[0][0]], label[item[0][1]]))
        ],
    }
