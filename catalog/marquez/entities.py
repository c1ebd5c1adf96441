"""Marquez-shaped entities: namespaces, datasets and their versions, jobs, runs, search, tags and raw events.

Shapes follow Marquez's ``spec/openapi.yml`` and its ``marquez.service.models`` classes (Marquez 0.50): ``Namespace``,
``Dataset`` / ``DatasetVersion`` (``DB_TABLE`` or ``STREAM`` for ``kafka://`` namespaces), ``Job``, ``Run`` (states
``NEW``/``RUNNING``/``COMPLETED``/``FAILED``/``ABORTED``), ``LineageGraph`` nodes ``{"id", "type", "data",
"inEdges", "outEdges"}``, ``SearchResult``, ``Tag``, ``LineageEventList``. Lists carry ``totalCount`` where
Marquez's do.

Raises (functions taking names or node ids): NotFoundError.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
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

__all__ = [
    "dataset",
    "dataset_data",
    "dataset_versions",
    "datasets",
    "events",
    "job",
    "job_data",
    "jobs",
    "namespaces",
    "runs",
    "search",
    "tags",
]

RUN_STATES = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
    "OTHER": "NEW",
}


def _namespace_row(session: Session, name: str) -> t.Namespace:
    row = session.scalar(select(t.Namespace).where(t.Namespace.name == name))
    if row is None:
        raise NotFoundError(f"no namespace {name!r}")
    return row


def namespaces(session: Session, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    rows = session.scalars(select(t.Namespace).order_by(t.Namespace.name).limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count(t.Namespace.id))) or 0
    return {
        "namespaces": [
            {
                "name": r.name,
                "createdAt": iso(r.created_at),
                "updatedAt": iso(r.updated_at),
                "ownerName": "anonymous",
                "description": r.description,
                "isHidden": False,
            }
            for r in rows
        ],
        "totalCount": total,
    }


def _fields(session: Session, ds: t.Dataset, fields: list[t.Field]) -> list[dict[str, Any]]:
    tags = field_tags(session, ds)
    return [
        {
            "name": f.name,
            "type": f.type,
            "tags": [tag.name for tag in tags.get(f.name, [])],
            "description": f.description,
        }
        for f in fields
    ]


def _common(session: Session, ds: t.Dataset) -> dict[str, Any]:
    ns = namespace_name(session, ds.namespace_id)
    source = (ds.facets.get("dataSource") or {}).get("name") or ns
    return {
        "id": {"namespace": ns, "name": ds.name},
        "type": "STREAM" if ns.startswith("kafka://") else "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "namespace": ns,
        "sourceName": source,
        "description": ds.description,
    }


def _column_lineage(session: Session, ds: t.Dataset) -> list[dict[str, Any]] | None:
    rows = session.scalars(
        select(t.ColumnLineage)
        .where(t.ColumnLineage.dataset_id == ds.id, t.ColumnLineage.field.is_not(None))
        .order_by(t.ColumnLineage.field, t.ColumnLineage.id)
    ).all()
    if not rows:
        return None
    by_field: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        source = session.get_one(t.Dataset, r.input_dataset_id)
        by_field.setdefault(r.field or "", []).append(
            {
                "namespace": namespace_name(session, source.namespace_id),
                "dataset": source.name,
                "field": r.input_field,
                "transformationDescription": r.transformation_description,
                "transformationType": r.transformation_type,
            }
        )
    return [{"name": name, "inputFields": inputs} for name, inputs in by_field.items()]


def dataset_data(session: Session, ds: t.Dataset) -> dict[str, Any]:
    latest, fields = current_fields(session, ds)
    return {
        **_common(session, ds),
        "createdAt": iso(ds.created_at),
        "updatedAt": iso(ds.updated_at),
        "fields": _fields(session, ds, fields),
        "tags": [tag.name for tag in dataset_tags(session, ds)],
        "lastModifiedAt": iso(latest.created_at) if latest is not None else None,
        "lastLifecycleState": None,
        "facets": ds.facets,
        "currentVersion": latest.uuid if latest is not None else None,
        "columnLineage": _column_lineage(session, ds),
        "deleted": False,
    }


def datasets(session: Session, namespace: str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    ns = _namespace_row(session, namespace)
    rows = session.scalars(
        select(t.Dataset).where(t.Dataset.namespace_id == ns.id).order_by(t.Dataset.name).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count(t.Dataset.id)).where(t.Dataset.namespace_id == ns.id)) or 0
    return {"datasets": [dataset_data(session, r) for r in rows], "totalCount": total}


def dataset(session: Session, namespace: str, name: str) -> dict[str, Any]:
    return dataset_data(session, resolve_dataset(session, name, namespace=namespace))


def _run(session: Session, run: t.Run) -> dict[str, Any]:
    job = session.get_one(t.Job, run.job_id)
    ended = run.ended_at
    duration = int((ended - run.started_at).total_seconds() * 1000) if ended and run.started_at else None
    io = session.execute(
        select(t.RunDataset.dataset_id, t.RunDataset.direction).where(t.RunDataset.run_id == run.id)
    ).all()
    out_versions = session.scalars(select(t.DatasetVersion).where(t.DatasetVersion.run_id == run.id)).all()

    def version_id(ds_id: int, version: str | None) -> dict[str, Any]:
        ds = session.get_one(t.Dataset, ds_id)
        return {"namespace": namespace_name(session, ds.namespace_id), "name": ds.name, "version": version}

    return {
        "id": run.uuid,
        "createdAt": iso(run.created_at),
        "updatedAt": iso(run.updated_at),
        "nominalStartTime": None,
        "nominalEndTime": None,
        "state": RUN_STATES.get(run.state, "NEW"),
        "startedAt": iso(run.started_at),
        "endedAt": iso(ended),
        "durationMs": duration,
        "args": {},
        "jobVersion": {"namespace": namespace_name(session, job.namespace_id), "name": job.name, "version": None},
        "inputDatasetVersions": [
            {"datasetVersionId": version_id(ds, None), "facets": {}} for ds, way in io if way == "in"
        ],
        "outputDatasetVersions": [
            {"datasetVersionId": version_id(v.dataset_id, v.uuid), "facets": v.facets} for v in out_versions
        ],
        "facets": run.facets,
    }


def dataset_versions(
    session: Session, namespace: str, name: str, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    ds = resolve_dataset(session, name, namespace=namespace)
    tags = [tag.name for tag in dataset_tags(session, ds)]
    rows = session.scalars(
        select(t.DatasetVersion)
        .where(t.DatasetVersion.dataset_id == ds.id)
        .order_by(t.DatasetVersion.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count(t.DatasetVersion.id)).where(t.DatasetVersion.dataset_id == ds.id)) or 0
    versions = []
    for v in rows:
        fields = (
            []
            if v.schema_version_id is None
            else session.scalars(
                select(t.Field).where(t.Field.schema_version_id == v.schema_version_id).order_by(t.Field.position)
            ).all()
        )
        common = _common(session, ds)
        versions.append(
            {
                **common,
                "id": {**common["id"], "version": v.uuid},
                "createdAt": iso(v.created_at),
                "version": v.uuid,
                "datasetVersion": v.version,
                "fields": _fields(session, ds, list(fields)),
                "tags": tags,
                "lifecycleState": None,
                "createdByRun": _run(session, session.get_one(t.Run, v.run_id)) if v.run_id else None,
                "facets": v.facets,
            }
        )
    return {"versions": versions, "totalCount": total}


def job_data(session: Session, job: t.Job) -> dict[str, Any]:
    ns = namespace_name(session, job.namespace_id)
    io = session.execute(
        select(t.JobDataset.dataset_id, t.JobDataset.direction).where(t.JobDataset.job_id == job.id)
    ).all()

    def ids(way: str) -> list[dict[str, str]]:
        found = [session.get_one(t.Dataset, ds) for ds, d in io if d == way]
        return [{"namespace": namespace_name(session, d.namespace_id), "name": d.name} for d in found]

    latest = session.scalar(select(t.Run).where(t.Run.job_id == job.id).order_by(t.Run.id.desc()))
    return {
        "id": {"namespace": ns, "name": job.name},
        "type": job.type,
        "name": job.name,
        "simpleName": job.name,
        "parentJobName": None,
        "parentJobUuid": None,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "namespace": ns,
        "inputs": ids("in"),
        "outputs": ids("out"),
        "location": None,
        "description": job.description,
        "latestRun": _run(session, latest) if latest is not None else None,
        "facets": job.facets,
        "currentVersion": None,
        "labels": [],
        "tags": [],
    }


def jobs(session: Session, namespace: str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    ns = _namespace_row(session, namespace)
    rows = session.scalars(
        select(t.Job).where(t.Job.namespace_id == ns.id).order_by(t.Job.name).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count(t.Job.id)).where(t.Job.namespace_id == ns.id)) or 0
    return {"jobs": [job_data(session, j) for j in rows], "totalCount": total}


def _job_row(session: Session, namespace: str, name: str) -> t.Job:
    ns = _namespace_row(session, namespace)
    row = session.scalar(select(t.Job).where(t.Job.namespace_id == ns.id, t.Job.name == name))
    if row is None:
        raise NotFoundError(f"no job {name!r} in namespace {namespace!r}")
    return row


def job(session: Session, namespace: str, name: str) -> dict[str, Any]:
    return job_data(session, _job_row(session, namespace, name))


def runs(session: Session, namespace: str, name: str, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    row = _job_row(session, namespace, name)
    found = session.scalars(
        select(t.Run).where(t.Run.job_id == row.id).order_by(t.Run.id.desc()).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count(t.Run.id)).where(t.Run.job_id == row.id)) or 0
    return {"runs": [_run(session, r) for r in found], "totalCount": total}


def search(
    session: Session, q: str, *, filter: str | None = None, sort: str = "name", limit: int = 10
) -> dict[str, Any]:
    """Marquez ``GET /api/v1/search``: ``{"totalCount", "results": [{"type", "name", "updatedAt", "namespace",
    "nodeId"}]}``; ``filter`` is ``dataset`` or ``job``; ``sort`` is ``name`` or ``updated_at``."""
    pattern = f"%{q}%"
    results = []
    if filter in (None, "", "dataset", "DATASET"):
        linked = select(t.DatasetSymlink.dataset_id).where(t.DatasetSymlink.name.ilike(pattern))
        for d in session.scalars(select(t.Dataset).where(or_(t.Dataset.name.ilike(pattern), t.Dataset.id.in_(linked)))):
            results.append(
                {
                    "type": "DATASET",
                    "name": d.name,
                    "updatedAt": iso(d.updated_at),
                    "namespace": namespace_name(session, d.namespace_id),
                    "nodeId": dataset_id(session, d),
                }
            )
    if filter in (None, "", "job", "JOB"):
        for j in session.scalars(select(t.Job).where(t.Job.name.ilike(pattern))):
            results.append(
                {
                    "type": "JOB",
                    "name": j.name,
                    "updatedAt": iso(j.updated_at),
                    "namespace": namespace_name(session, j.namespace_id),
                    "nodeId": job_id(session, j),
                }
            )
    if sort == "updated_at":
        results.sort(key=lambda r: r["updatedAt"] or "", reverse=True)
    else:
        results.sort(key=lambda r: r["name"])
    results = results[:limit]
    return {"totalCount": len(results), "results": results}


def tags(session: Session, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    rows = session.scalars(select(t.Tag).order_by(t.Tag.name).limit(limit).offset(offset)).all()
    return {"tags": [{"name": r.name, "description": r.description} for r in rows]}


def events(
    session: Session,
    *,
    before: Any = None,
    after: Any = None,
    sort_direction: str = "desc",
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Marquez ``GET /api/v1/events/lineage``: raw events by ``eventTime``, ``{"events": [...], "totalCount"}``."""
    query = select(t.Event)
    count = select(func.count(t.Event.id))
    if before is not None:
        query, count = query.where(t.Event.event_time < before), count.where(t.Event.event_time < before)
    if after is not None:
        query, count = query.where(t.Event.event_time > after), count.where(t.Event.event_time > after)
    order = (
        (t.Event.event_time.asc(), t.Event.id.asc())
        if sort_direction == "asc"
        else (t.Event.event_time.desc(), t.Event.id.desc())
    )
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return {"events": [r.payload for r in rows], "totalCount": session.scalar(count) or 0}
