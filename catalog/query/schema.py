"""Schema history: each schema a dataset has had, with the diff to the previous one (breaking or not)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.query.datasets import dataset_ref
from catalog.storage import tables as t
from catalog.storage.reads import field_tags, iso, resolve_dataset

__all__ = ["diff_fields", "schema_history"]

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
    """Each schema the dataset has had, oldest first (by event time), with a diff to the previous one.

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
        # by event time, not arrival: a backfill (``streamproc lineage backfill``) sends older runs' events late
        .order_by(t.DatasetVersion.created_at, t.DatasetVersion.id)
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
    return {"dataset": dataset_ref(session, dataset), "versions": history}
