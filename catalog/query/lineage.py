"""Lineage queries: the job/dataset graph around a node, and the column lineage of one field."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.query.datasets import dataset_kind
from catalog.storage import tables as t
from catalog.storage.reads import (
    Direction,
    Graph,
    NodeKey,
    current_fields,
    dataset_id,
    job_id,
    namespace_name,
    resolve_dataset,
    resolve_node,
    walk,
)
from catalog.tags import is_pii

__all__ = ["column_lineage", "graph", "lineage"]


def lineage(session: Session, ref: str, *, depth: int = 5, direction: Direction = "both") -> dict[str, Any]:
    """Lineage graph around a dataset (or a job, ``job:<ns>:<name>``).

    Returns:
        ``{"root": id, "depth", "direction", "nodes": [{"id", "type": "DATASET"|"JOB", "namespace", "name",
        "distance"}], "edges": [{"origin", "destination"}]}``; an edge means data flows origin → destination.
    """
    start = resolve_node(session, ref)
    found = walk(session, start, depth=depth, direction=direction)
    nodes, edges, ids = _describe(session, found)
    return {"root": ids[start], "depth": depth, "direction": direction, "nodes": nodes, "edges": edges}


def _describe(
    session: Session, found: Graph, *, details: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[NodeKey, str]]:
    pii: set[int] = set()
    if details:
        pii = _pii_datasets(session)
    ids: dict[NodeKey, str] = {}
    nodes = []
    for key, distance in sorted(found.nodes.items(), key=lambda item: (item[1], item[0])):
        row: t.Dataset | t.Job = session.get_one(t.Dataset if key[0] == "dataset" else t.Job, key[1])
        node_id = dataset_id(session, row) if key[0] == "dataset" else job_id(session, row)  # type: ignore[arg-type]
        ids[key] = node_id
        namespace = namespace_name(session, row.namespace_id)
        node: dict[str, Any] = {
            "id": node_id,
            "type": key[0].upper(),
            "namespace": namespace,
            "name": row.name,
            "distance": distance,
        }
        if details:
            if isinstance(row, t.Dataset):
                node["kind"] = dataset_kind(namespace, row)
                node["pii"] = row.id in pii
            else:
                node["kind"] = "JOB"
                node["pii"] = False
            node["label"] = _label(session, row)
        nodes.append(node)
    edges = [{"origin": a, "destination": b} for a, b in sorted((ids[a], ids[b]) for a, b in found.edges)]
    return nodes, edges, ids


def _pii_datasets(session: Session) -> set[int]:
    on_fields = session.execute(select(t.FieldTag.dataset_id, t.Tag.name).join(t.Tag, t.Tag.id == t.FieldTag.tag_id))
    on_datasets = session.execute(
        select(t.DatasetTag.dataset_id, t.Tag.name).join(t.Tag, t.Tag.id == t.DatasetTag.tag_id)
    )
    return {ds for ds, name in [*on_fields, *on_datasets] if is_pii(name)}


def _label(session: Session, row: t.Dataset | t.Job) -> str:
    """A short label: a table's logical name (symlink), a path's last segment, a topic's or job's name."""
    if isinstance(row, t.Job):
        return row.name
    symlink = session.scalar(select(t.DatasetSymlink.name).where(t.DatasetSymlink.dataset_id == row.id))
    if symlink and not row.name.rstrip("/").endswith("__quarantine"):
        return symlink
    return row.name.rstrip("/").rsplit("/", 1)[-1] or row.name


def graph(session: Session, ref: str | None = None, *, depth: int = 5, direction: Direction = "both") -> dict[str, Any]:
    """The lineage graph as the UI draws it: ``lineage`` around ``ref``, or, without ``ref``, every job and every
    dataset a job reads or writes. Nodes also carry ``kind`` (``TOPIC``, ``TABLE``, ``QUARANTINE``, ``FILE``,
    ``DATASET``, ``JOB``), ``pii`` (a column or the dataset carries a PII tag) and ``label`` (a short name).

    Returns:
        ``{"root": id | None, "depth", "direction", "nodes": [...], "edges": [{"origin", "destination"}]}``.

    Raises:
        NotFoundError, AmbiguousNameError: ``ref`` names no node, or several datasets.
    """
    if ref is None:
        found = Graph()
        links = session.execute(select(t.JobDataset.job_id, t.JobDataset.dataset_id, t.JobDataset.direction))
        for job, ds, way in links:
            found.nodes.setdefault(("job", job), 0)
            found.nodes.setdefault(("dataset", ds), 0)
            found.edges.add((("dataset", ds), ("job", job)) if way == "in" else (("job", job), ("dataset", ds)))
        nodes, edges, _ = _describe(session, found, details=True)
        return {"root": None, "depth": None, "direction": "both", "nodes": nodes, "edges": edges}
    start = resolve_node(session, ref)
    found = walk(session, start, depth=depth, direction=direction)
    nodes, edges, ids = _describe(session, found, details=True)
    return {"root": ids[start], "depth": depth, "direction": direction, "nodes": nodes, "edges": edges}


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
