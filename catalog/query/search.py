"""Search: datasets (topics, tables, quarantines, files) and jobs by name, namespace, tag or field name."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.query.datasets import dataset_kind, dataset_ref
from catalog.storage import tables as t
from catalog.storage.reads import current_fields, iso, job_id, namespace_name

__all__ = ["SearchBy", "search"]

SearchBy = Literal["name", "namespace", "tag", "field"]


def search(session: Session, q: str, *, by: SearchBy = "name", limit: int = 50) -> dict[str, Any]:
    """Datasets and jobs matching ``q`` (case-insensitive, contained; ``%``/``_`` are SQL wildcards, as in Marquez):

    - ``name``: a dataset's name or symlink name, a job's name;
    - ``namespace``: the dataset's or job's namespace (``kafka://broker:9092``, ``file``, ``streamproc``);
    - ``tag``: a dataset or column tag's name, key or value (``pii``, ``email``, ``pii:email``);
    - ``field``: a column of the dataset's current schema.

    Returns:
        ``{"q", "by", "results": [{"type": "DATASET"|"JOB", "kind" (``TOPIC``, ``TABLE``, ``QUARANTINE``, ``FILE``,
        ``DATASET`` or ``JOB``), "id", "namespace", "name", "updatedAt", "symlinks", "matched": [the tags or
        fields that matched]}]}``.
    """
    pattern = f"%{q}%"
    matched: dict[int, list[str]] = {}
    job_rows: list[t.Job] = []
    if by == "name":
        linked = select(t.DatasetSymlink.dataset_id).where(t.DatasetSymlink.name.ilike(pattern))
        condition: Any = or_(t.Dataset.name.ilike(pattern), t.Dataset.id.in_(linked))
        job_rows = list(session.scalars(select(t.Job).where(t.Job.name.ilike(pattern)).order_by(func.lower(t.Job.name))))
    elif by == "namespace":
        in_ns = select(t.Namespace.id).where(t.Namespace.name.ilike(pattern))
        condition = t.Dataset.namespace_id.in_(in_ns)
        job_rows = list(
            session.scalars(select(t.Job).where(t.Job.namespace_id.in_(in_ns)).order_by(func.lower(t.Job.name)))
        )
    elif by == "tag":
        tags = select(t.Tag.id).where(or_(t.Tag.name.ilike(pattern), t.Tag.key.ilike(pattern), t.Tag.value.ilike(pattern)))
        on_fields = session.execute(
            select(t.FieldTag.dataset_id, t.FieldTag.field, t.Tag.name)
            .join(t.Tag, t.Tag.id == t.FieldTag.tag_id)
            .where(t.FieldTag.tag_id.in_(tags))
        ).all()
        for ds_id, field, name in on_fields:
            matched.setdefault(ds_id, []).append(f"{field}: {name}")
        for ds_id, name in session.execute(
            select(t.DatasetTag.dataset_id, t.Tag.name).join(t.Tag, t.Tag.id == t.DatasetTag.tag_id).where(
                t.DatasetTag.tag_id.in_(tags)
            )
        ):
            matched.setdefault(ds_id, []).insert(0, name)
        condition = t.Dataset.id.in_(list(matched))
    else:
        needle = q.lower()
        for dataset in session.scalars(select(t.Dataset)):
            names = [f.name for f in current_fields(session, dataset)[1] if needle in f.name.lower()]
            if names:
                matched[dataset.id] = names
        condition = t.Dataset.id.in_(list(matched))
    datasets = session.scalars(select(t.Dataset).where(condition).order_by(func.lower(t.Dataset.name)).limit(limit))
    results = []
    for d in datasets:
        namespace = namespace_name(session, d.namespace_id)
        results.append(
            {
                "type": "DATASET",
                "kind": dataset_kind(namespace, d),
                **dataset_ref(session, d),
                "updatedAt": iso(d.updated_at),
                "matched": sorted(set(matched.get(d.id, [])), key=matched.get(d.id, []).index),
            }
        )
    results += [
        {
            "type": "JOB",
            "kind": "JOB",
            "id": job_id(session, j),
            "namespace": namespace_name(session, j.namespace_id),
            "name": j.name,
            "updatedAt": iso(j.updated_at),
            "symlinks": [],
            "matched": [],
        }
        for j in job_rows[:limit]
    ]
    return {"q": q, "by": by, "results": results[:limit]}
