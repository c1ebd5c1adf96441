"""Search: datasets and jobs by name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.query.datasets import dataset_ref
from catalog.storage import tables as t
from catalog.storage.reads import iso, job_id, namespace_name

__all__ = ["search"]


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
    results = [{"type": "DATASET", **dataset_ref(session, d), "updatedAt": iso(d.updated_at)} for d in datasets]
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
