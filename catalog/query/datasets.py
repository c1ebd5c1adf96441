"""Datasets as the query API names them: a reference (id, namespace, name, symlinks), what kind of dataset it is, and
what a dataset page shows (schema with tags and PII actions, companions, readers and writers)."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.storage import tables as t
from catalog.storage.reads import (
    current_fields,
    dataset_id,
    dataset_tags,
    field_tags,
    iso,
    job_id,
    namespace_name,
    resolve_dataset,
)
from catalog.tags import PII_ACTION_KEY, is_pii

__all__ = ["QUARANTINE_SUFFIX", "DatasetKind", "dataset_kind", "dataset_page", "dataset_ref", "pii_actions"]

DatasetKind = Literal["TOPIC", "TABLE", "QUARANTINE", "FILE", "DATASET"]
QUARANTINE_SUFFIX = "__quarantine"
"""streamproc's quarantine table is ``<table>__quarantine`` beside the table (streamproc's docs/quarantine.md)."""


def dataset_ref(session: Session, dataset: t.Dataset) -> dict[str, Any]:
    symlinks = session.scalars(select(t.DatasetSymlink.name).where(t.DatasetSymlink.dataset_id == dataset.id)).all()
    return {
        "id": dataset_id(session, dataset),
        "namespace": namespace_name(session, dataset.namespace_id),
        "name": dataset.name,
        "symlinks": sorted(symlinks),
    }


def dataset_kind(namespace: str, dataset: t.Dataset) -> DatasetKind:
    """``TOPIC`` (a ``kafka://`` namespace, OpenLineage naming spec), ``QUARANTINE`` (a Delta table named
    ``<table>__quarantine``), ``TABLE`` (a ``storage`` facet, or loads), ``FILE`` (the ``file`` namespace), else
    ``DATASET``."""
    if namespace.startswith("kafka://"):
        return "TOPIC"
    is_table = "storage" in (dataset.facets or {}) or "version" in (dataset.facets or {})
    if dataset.name.rstrip("/").endswith(QUARANTINE_SUFFIX):
        return "QUARANTINE"
    if is_table:
        return "TABLE"
    return "FILE" if namespace == "file" else "DATASET"


def pii_actions(dataset: t.Dataset) -> dict[str, str]:
    """Column → PII action (``keep``/``hash``/``mask``/``drop``) as the dataset's latest ``tags`` facet reports it
    (entries ``{"key": "pii_action", "value": <action>, "field": <column>}``, streamproc's runtime). A ``drop``
    column is not in the table: the action says why."""
    entries = ((dataset.facets or {}).get("tags") or {}).get("tags") or []
    return {
        str(e["field"]): str(e.get("value"))
        for e in entries
        if isinstance(e, dict) and e.get("key") == PII_ACTION_KEY and e.get("field")
    }


def _sibling(session: Session, dataset: t.Dataset, name: str) -> t.Dataset | None:
    return session.scalar(select(t.Dataset).where(t.Dataset.namespace_id == dataset.namespace_id, t.Dataset.name == name))


def _jobs(session: Session, dataset: t.Dataset, direction: str) -> list[dict[str, Any]]:
    jobs = session.scalars(
        select(t.Job)
        .join(t.JobDataset, t.JobDataset.job_id == t.Job.id)
        .where(t.JobDataset.dataset_id == dataset.id, t.JobDataset.direction == direction)
        .order_by(t.Job.name)
    ).all()
    return [{"id": job_id(session, j), "name": j.name, "type": j.type} for j in jobs]


def dataset_page(session: Session, ref: str) -> dict[str, Any]:
    """Everything a dataset page shows but its history and loads.

    Returns:
        ``{"dataset": {"id", "namespace", "name", "symlinks"}, "kind", "description", "updatedAt", "location",
        "owner", "tags": [dataset tag names], "pii": bool, "fields": [{"name", "type", "description", "tags",
        "pii": bool, "piiAction" | None}], "droppedPii": [{"name", "piiAction": "drop"}] (tagged fields that never
        land), "latestVersion" | None, "quarantine" | None (the ``__quarantine`` companion's id), "table" | None
        (for a quarantine: its table's id), "writers": [{"id", "name", "type"}], "readers": [...]}``.

    Raises:
        NotFoundError, AmbiguousNameError: see ``resolve_dataset``.
    """
    dataset = resolve_dataset(session, ref)
    namespace = namespace_name(session, dataset.namespace_id)
    latest, fields = current_fields(session, dataset)
    tags = field_tags(session, dataset)
    actions = pii_actions(dataset)
    rows = []
    for f in fields:
        names = [tag.name for tag in tags.get(f.name, [])]
        rows.append(
            {
                "name": f.name,
                "type": f.type,
                "description": f.description,
                "tags": names,
                "pii": any(is_pii(tag.name) for tag in tags.get(f.name, [])),
                "piiAction": actions.get(f.name),
            }
        )
    present = {f.name for f in fields}
    dropped = [{"name": name, "piiAction": action} for name, action in sorted(actions.items()) if name not in present]
    kind = dataset_kind(namespace, dataset)
    companion = table = None
    if kind == "QUARANTINE":
        base = _sibling(session, dataset, dataset.name.rstrip("/")[: -len(QUARANTINE_SUFFIX)])
        table = dataset_id(session, base) if base is not None else None
    else:
        other = _sibling(session, dataset, dataset.name.rstrip("/") + QUARANTINE_SUFFIX)
        companion = dataset_id(session, other) if other is not None else None
    facets = dataset.facets or {}
    owners = (facets.get("ownership") or {}).get("owners") or []
    ds_tags = [tag.name for tag in dataset_tags(session, dataset)]
    return {
        "dataset": dataset_ref(session, dataset),
        "kind": kind,
        "description": dataset.description,
        "updatedAt": iso(dataset.updated_at),
        "location": (facets.get("dataSource") or {}).get("uri"),
        "owner": ", ".join(str(o.get("name")) for o in owners if isinstance(o, dict)) or None,
        "tags": ds_tags,
        "pii": any(is_pii(n) for n in ds_tags) or any(r["pii"] for r in rows) or bool(dropped),
        "fields": rows,
        "droppedPii": dropped,
        "latestVersion": latest.version if latest is not None else None,
        "quarantine": companion,
        "table": table,
        "writers": _jobs(session, dataset, "out"),
        "readers": _jobs(session, dataset, "in"),
    }
