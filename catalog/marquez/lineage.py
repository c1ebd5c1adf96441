"""Marquez-shaped lineage graphs: ``GET /api/v1/lineage`` (datasets and jobs) and ``GET /api/v1/column-lineage``
(``DATASET_FIELD`` nodes), as Marquez's ``LineageGraph``: ``{"graph": [{"id", "type", "data", "inEdges",
"outEdges"}]}`` with edges ``{"origin", "destination"}``.

Raises: NotFoundError (unknown node id).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.orm import Session

from catalog.marquez.entities import dataset_data, job_data
from catalog.query import column_lineage
from catalog.storage import tables as t
from catalog.storage.reads import current_fields, dataset_id, job_id, resolve_dataset, resolve_node, walk

__all__ = ["column_lineage_graph", "lineage_graph"]


def lineage_graph(session: Session, node_id: str, *, depth: int = 20) -> dict[str, Any]:
    """Marquez ``GET /api/v1/lineage``: datasets and jobs connected to ``node_id`` both ways, up to ``depth``."""
    start = resolve_node(session, node_id)
    graph = walk(session, start, depth=depth, direction="both")
    label = {}
    for key in graph.nodes:
        row = session.get_one(t.Dataset if key[0] == "dataset" else t.Job, key[1])
        label[key] = dataset_id(session, row) if key[0] == "dataset" else job_id(session, row)  # type: ignore[arg-type]
    nodes = []
    for key in sorted(graph.nodes, key=lambda k: label[k]):
        row = session.get_one(t.Dataset if key[0] == "dataset" else t.Job, key[1])
        data = dataset_data(session, row) if key[0] == "dataset" else job_data(session, row)  # type: ignore[arg-type]
        nodes.append(
            {
                "id": label[key],
                "type": "DATASET" if key[0] == "dataset" else "JOB",
                "data": data,
                "inEdges": sorted(
                    ({"origin": label[a], "destination": label[b]} for a, b in graph.edges if b == key),
                    key=lambda e: (e["origin"], e["destination"]),
                ),
                "outEdges": sorted(
                    ({"origin": label[a], "destination": label[b]} for a, b in graph.edges if a == key),
                    key=lambda e: (e["origin"], e["destination"]),
                ),
            }
        )
    return {"graph": nodes}


def column_lineage_graph(
    session: Session, node_id: str, *, depth: int = 20, with_downstream: bool = False
) -> dict[str, Any]:
    """Marquez ``GET /api/v1/column-lineage``: ``DATASET_FIELD`` nodes for one field (``datasetField:...``) or
    every field of a dataset (``dataset:...``). As in Marquez, an edge's ``origin`` is the node listing it."""
    if node_id.startswith("datasetField:"):
        text, _, field = node_id[len("datasetField:") :].rpartition(":")
        ds = resolve_dataset(session, text)
        wanted = [field]
    else:
        ds = resolve_dataset(session, node_id)
        wanted = [f.name for f in current_fields(session, ds)[1]]
    direction: Literal["up", "both"] = "both" if with_downstream else "up"
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str, dict[str, Any]]] = []
    for name in wanted:
        result = column_lineage(session, dataset_id(session, ds), name, depth=depth, direction=direction)
        for node in result["nodes"]:
            nodes.setdefault(node["id"], node)
        edges += [(e["origin"], e["destination"], e) for e in result["edges"]]
    graph = []
    for nid in sorted(nodes):
        node = nodes[nid]
        inputs = [(o, e) for o, d, e in edges if d == nid]
        graph.append(
            {
                "id": nid,
                "type": "DATASET_FIELD",
                "data": {
                    "namespace": node["namespace"],
                    "dataset": node["dataset"],
                    "datasetVersion": None,
                    "field": node["field"],
                    "fieldType": None,
                    "inputFields": [
                        {
                            "namespace": nodes[o]["namespace"],
                            "dataset": nodes[o]["dataset"],
                            "datasetVersion": None,
                            "field": nodes[o]["field"],
                            "transformationDescription": e["transformationDescription"],
                            "transformationType": e["transformationType"],
                        }
                        for o, e in inputs
                    ],
                },
                "inEdges": sorted({(nid, o) for o, _ in inputs}),
                "outEdges": sorted({(nid, d) for o, d, _ in edges if o == nid}),
            }
        )
    for node in graph:
        node["inEdges"] = [{"origin": a, "destination": b} for a, b in node["inEdges"]]
        node["outEdges"] = [{"origin": a, "destination": b} for a, b in node["outEdges"]]
    return {"graph": graph}
