"""The catalog's own query API: plain JSON-able dicts, served under ``/api/v1/catalog/*`` and printed by the CLI.

Every function takes an open session; dataset references are resolved by ``catalog.storage.reads.resolve_dataset``
(``dataset:<ns>:<name>``, ``<ns>:<name>``, ``table:<name>``, ``topic:<name>``, or a bare name: a symlink name first,
then a dataset name).

Raises (all functions taking a dataset reference):
    NotFoundError: no such dataset (or field).
    AmbiguousNameError: a bare name matches several datasets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.storage import tables as t
from catalog.storage.reads import (
    Direction,
    current_fields,
    dataset_id,
    field_tags,
    iso,
    job_id,
    namespace_name,
    resolve_dataset,
    resolve_node,
    walk,
)
from catalog.tags import tag_matches

__all__ = ["column_lineage", "diff_fields", "lineage", "loads", "loads_for_offset", "pii", "schema_history", "search"]

# type changes a reader survives (Arrow / Delta type names, lower case)
_WIDENINGS = {
    ("int8", "int16"),
    ("int8", "int32"),
    ("int8", "int64"),
    ("int16", "int32"),
    ("int16", "int64"),
    ("int32", "int64"),
    ("byte", "short"),
    ("short", "integer"),
    ("integer", "long"),
    ("int", "long"),
    ("float", "double"),
    ("float32", "float64"),
    ("halffloat", "float"),
    ("date", "timestamp"),
}


def _dataset_ref(session: Session, dataset: t.Dataset) -> dict[str, Any]:
    symlinks = session.scalars(select(t.DatasetSymlink.name).where(t.DatasetSymlink.dataset_id == dataset.id)).all()
    return {
        "id": dataset_id(session, dataset),
        "namespace": namespace_name(session, dataset.namespace_id),
        "name": dataset.name,
        "symlinks": sorted(symlinks),
    }


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


def diff_fields(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """Diff two field lists (``[{"name", "type"}]``).

    Returns:
        ``{"added": [{"name", "type"}], "removed": [...], "typeChanged": [{"name", "from", "to", "breaking"}],
        "breaking": bool}``: a removal or a non-widening type change breaks readers; an addition does not.
    """
    old = {f["name"]: f.get("type") for f in before}
    new = {f["name"]: f.get("type") for f in after}
    added = [{"name": n, "type": new[n]} for n in new if n not in old]
    removed = [{"name": n, "type": old[n]} for n in old if n not in new]
    changed = []
    for name in new:
        if name in old and (old[name] or "").lower() != (new[name] or "").lower():
            widening = ((old[name] or "").lower(), (new[name] or "").lower()) in _WIDENINGS
            changed.append({"name": name, "from": old[name], "to": new[name], "breaking": not widening})
    breaking = bool(removed) or any(c["breaking"] for c in changed)
    return {"added": added, "removed": removed, "typeChanged": changed, "breaking": breaking}


def schema_history(session: Session, ref: str) -> dict[str, Any]:
    """Each schema the dataset has had, oldest first, with a diff to the previous one.

    Returns:
        ``{"dataset": {...}, "versions": [{"schemaVersion": uuid, "hash", "createdAt" (event time it was first
        seen), "datasetVersion": the first numbered version (Delta version) with this schema, or None,
        "contract": {"name", "version", "hash"} | None,
        "fields": [{"name", "type", "description", "tags"}], "diff": see ``diff_fields`` (None for the first)}]}``.
    """
    dataset = resolve_dataset(session, ref)
    tags = field_tags(session, dataset)
    versions = session.scalars(
        select(t.DatasetVersion)
        .where(t.DatasetVersion.dataset_id == dataset.id, t.DatasetVersion.schema_version_id.is_not(None))
        .order_by(t.DatasetVersion.id)
    ).all()
    history: list[dict[str, Any]] = []
    previous_schema: int | None = None
    previous_fields: list[dict[str, Any]] = []
    for dv in versions:
        if dv.schema_version_id == previous_schema:  # same schema: fill in what the first version lacked
            if history[-1]["contract"] is None and dv.contract_version is not None:
                history[-1]["contract"] = {
                    "name": dv.contract_name,
                    "version": dv.contract_version,
                    "hash": dv.contract_hash,
                }
            if history[-1]["datasetVersion"] is None:
                history[-1]["datasetVersion"] = dv.version
            continue
        schema = session.get_one(t.SchemaVersion, dv.schema_version_id)
        fields = [
            {
                "name": f.name,
                "type": f.type,
                "description": f.description,
                "tags": [tag.name for tag in tags.get(f.name, [])],
            }
            for f in session.scalars(
                select(t.Field).where(t.Field.schema_version_id == schema.id).order_by(t.Field.position)
            )
        ]
        history.append(
            {
                "schemaVersion": schema.uuid,
                "hash": schema.hash,
                "createdAt": iso(dv.created_at),
                "datasetVersion": dv.version,
                "contract": (
                    {"name": dv.contract_name, "version": dv.contract_version, "hash": dv.contract_hash}
                    if dv.contract_version is not None
                    else None
                ),
                "fields": fields,
                "diff": diff_fields(previous_fields, fields) if history else None,
            }
        )
        previous_schema, previous_fields = dv.schema_version_id, fields
    return {"dataset": _dataset_ref(session, dataset), "versions": history}


def pii(session: Session, *, tag: str | None = None) -> dict[str, Any]:
    """Which datasets and columns carry which tags, optionally only those matching ``tag`` (see ``catalog.tags``).

    Returns:
        ``{"tag": filter | None, "items": [{"namespace", "dataset", "field" (None: the whole dataset), "type",
        "tag", "description", "source"}]}`` sorted by dataset, field, tag.
    """
    items = []
    rows = session.execute(
        select(t.FieldTag.dataset_id, t.FieldTag.field, t.FieldTag.source, t.Tag).join(
            t.Tag, t.Tag.id == t.FieldTag.tag_id
        )
    ).all()
    rows += session.execute(
        select(t.DatasetTag.dataset_id, None, t.DatasetTag.source, t.Tag).join(t.Tag, t.Tag.id == t.DatasetTag.tag_id)
    ).all()
    types: dict[int, dict[str, str | None]] = {}
    for ds_id, field, source, tag_row in rows:
        if tag is not None and not tag_matches(tag_row.name, tag_row.key, tag_row.value, tag):
            continue
        dataset = session.get_one(t.Dataset, ds_id)
        if ds_id not in types:
            types[ds_id] = {f.name: f.type for f in current_fields(session, dataset)[1]}
        items.append(
            {
                "namespace": namespace_name(session, dataset.namespace_id),
                "dataset": dataset.name,
                "field": field,
                "type": types[ds_id].get(field) if field else None,
                "tag": tag_row.name,
                "description": tag_row.description,
                "source": source,
            }
        )
    items.sort(key=lambda i: (i["namespace"], i["dataset"], i["field"] or "", i["tag"]))
    return {"tag": tag, "items": items}


def _load_dict(session: Session, load: t.Load) -> dict[str, Any]:
    run = session.get_one(t.Run, load.run_id)
    dataset = session.get_one(t.Dataset, load.dataset_id)
    offsets = session.scalars(
        select(t.LoadOffset).where(t.LoadOffset.load_id == load.id).order_by(t.LoadOffset.id)
    ).all()
    return {
        "loadId": load.load_id,
        "dataset": dataset_id(session, dataset),
        "table": load.table,
        "deltaVersion": load.delta_version,
        "runId": run.uuid,
        "runState": run.state,
        "contract": {"name": load.contract_name, "version": load.contract_version, "hash": load.contract_hash},
        "rowsLanded": load.rows_landed,
        "rowsQuarantined": load.rows_quarantined,
        "createdAt": iso(load.created_at),
        "offsets": [{"topic": o.topic, "partition": o.partition, "first": o.first, "last": o.last} for o in offsets],
    }


def loads(session: Session, ref: str) -> dict[str, Any]:
    """The loads that produced each Delta version of a dataset, newest first.

    Returns:
        ``{"dataset": {...}, "loads": [{"loadId", "dataset", "table", "deltaVersion", "runId", "runState",
        "contract": {"name", "version", "hash"}, "rowsLanded", "rowsQuarantined", "createdAt",
        "offsets": [{"topic", "partition", "first", "last"}]}]}``.
    """
    dataset = resolve_dataset(session, ref)
    rows = session.scalars(
        select(t.Load).where(t.Load.dataset_id == dataset.id).order_by(t.Load.delta_version.desc(), t.Load.id.desc())
    ).all()
    return {"dataset": _dataset_ref(session, dataset), "loads": [_load_dict(session, r) for r in rows]}


def loads_for_offset(session: Session, *, topic: str, partition: int, offset: int) -> dict[str, Any]:
    """Which load (and Delta version) landed Kafka ``topic``/``partition``/``offset``. Usually one; more if the
    offset was landed into several tables (or replayed).

    Returns:
        ``{"topic", "partition", "offset", "loads": [...as in ``loads``]}``; ``loads`` is empty when none did.
    """
    rows = session.scalars(
        select(t.Load)
        .join(t.LoadOffset, t.LoadOffset.load_id == t.Load.id)
        .where(
            t.LoadOffset.topic == topic,
            t.LoadOffset.partition == partition,
            t.LoadOffset.first <= offset,
            t.LoadOffset.last >= offset,
        )
        .order_by(t.Load.id)
        .distinct()
    ).all()
    return {"topic": topic, "partition": partition, "offset": offset, "loads": [_load_dict(session, r) for r in rows]}


def search(session: Session, q: str, *, limit: int = 50) -> dict[str, Any]:
    """Datasets (by name or symlink name) and jobs whose name contains ``q`` (case-insensitive; ``%``/``_`` are
    SQL wildcards, as in Marquez).

    Returns:
        ``{"q", "results": [{"type": "DATASET"|"JOB", "id", "namespace", "name", "updatedAt", "symlinks"}]}``.
    """
    pattern = f"%{q}%"
    linked = select(t.DatasetSymlink.dataset_id).where(t.DatasetSymlink.name.ilike(pattern))
    datasets = session.scalars(
        select(t.Dataset)
        .where(or_(t.Dataset.name.ilike(pattern), t.Dataset.id.in_(linked)))
        .order_by(func.lower(t.Dataset.name))
        .limit(limit)
    ).all()
    jobs = session.scalars(
        select(t.Job).where(t.Job.name.ilike(pattern)).order_by(func.lower(t.Job.name)).limit(limit)
    ).all()
    results = [{"type": "DATASET", **_dataset_ref(session, d), "updatedAt": iso(d.updated_at)} for d in datasets]
    results += [
        {
            "type": "JOB",
            "id": job_id(session, j),
            "namespace": namespace_name(session, j.namespace_id),
            "name": j.name,
            "updatedAt": iso(j.updated_at),
            "symlinks": [],
        }
        for j in jobs
    ]
    return {"q": q, "results": results[:limit]}
