"""Jobs and their runs: states, the events each run sent, its loads, and how a failed run failed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.errors import NotFoundError
from catalog.query.loads import load_dict
from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, iso, job_id, namespace_name, resolve_job

__all__ = ["job_page", "run_events"]


def _error(facets: dict[str, Any]) -> dict[str, Any] | None:
    error = facets.get("errorMessage")
    if not isinstance(error, dict):
        return None
    return {"message": error.get("message"), "stackTrace": error.get("stackTrace")}


def job_page(session: Session, ref: str, *, limit: int = 50) -> dict[str, Any]:
    """A job with its inputs, outputs and newest ``limit`` runs.

    A streaming run (streamproc) stays ``RUNNING`` while it lands: one ``RUNNING`` event per load (or per window of
    loads), then ``COMPLETE`` or ``FAIL``.

    Returns:
        ``{"job": {"id", "namespace", "name", "type", "description", "integration", "processingType"},
        "inputs": [dataset ids], "outputs": [dataset ids], "runs": [{"runId", "state", "startedAt", "endedAt",
        "stateAt", "events": {eventType: count}, "loads", "rowsLanded", "rowsQuarantined", "error": {"message",
        "stackTrace"} | None}]}`` (newest first).

    Raises:
        NotFoundError: no such job.
    """
    job = resolve_job(session, ref)
    links = session.execute(
        select(t.JobDataset.dataset_id, t.JobDataset.direction).where(t.JobDataset.job_id == job.id)
    ).all()
    ids = {ds: dataset_id(session, session.get_one(t.Dataset, ds)) for ds, _ in links}
    job_type = (job.facets or {}).get("jobType") or {}
    runs = session.scalars(
        select(t.Run).where(t.Run.job_id == job.id).order_by(t.Run.created_at.desc(), t.Run.id.desc()).limit(limit)
    ).all()
    items = []
    for run in runs:
        counts = dict(
            session.execute(
                select(t.Event.event_type, func.count(t.Event.id))
                .where(t.Event.run_uuid == run.uuid)
                .group_by(t.Event.event_type)
            ).all()
        )
        landed, quarantined, loads = session.execute(
            select(
                func.coalesce(func.sum(t.Load.rows_landed), 0),
                func.coalesce(func.sum(t.Load.rows_quarantined), 0),
                func.count(t.Load.id),
            ).where(t.Load.run_id == run.id)
        ).one()
        items.append(
            {
                "runId": run.uuid,
                "state": run.state,
                "startedAt": iso(run.started_at),
                "endedAt": iso(run.ended_at),
                "stateAt": iso(run.state_time),
                "events": {str(k): int(v) for k, v in counts.items()},
                "loads": int(loads),
                "rowsLanded": int(landed),
                "rowsQuarantined": int(quarantined),
                "error": _error(run.facets or {}) if run.state == "FAIL" else None,
            }
        )
    return {
        "job": {
            "id": job_id(session, job),
            "namespace": namespace_name(session, job.namespace_id),
            "name": job.name,
            "type": job.type,
            "description": job.description,
            "integration": job_type.get("integration"),
            "processingType": job_type.get("processingType"),
        },
        "inputs": sorted(ids[ds] for ds, way in links if way == "in"),
        "outputs": sorted(ids[ds] for ds, way in links if way == "out"),
        "runs": items,
    }


def run_events(session: Session, run_id: str) -> dict[str, Any]:
    """The events of one run in event-time order, each with its per-load facets, and the run's loads.

    Returns:
        ``{"runId", "state", "events": [{"eventType", "eventTime", "loads": [streamproc_load facets, oldest first],
        "error": {"message", "stackTrace"} | None}], "loads": [as ``catalog.query.loads``]}``.

    Raises:
        NotFoundError: no such run.
    """
    run = session.scalar(select(t.Run).where(t.Run.uuid == run_id))
    if run is None:
        raise NotFoundError(f"no run {run_id!r}")
    events = session.scalars(select(t.Event).where(t.Event.run_uuid == run_id).order_by(t.Event.event_time, t.Event.id))
    items = []
    for event in events:
        facets = (event.payload.get("run") or {}).get("facets") or {}
        window = (facets.get("streamproc_loads") or {}).get("loads") or []
        single = facets.get("streamproc_load")
        loads = window or ([single] if single else [])
        items.append(
            {
                "eventType": event.event_type,
                "eventTime": iso(event.event_time),
                "loads": [{k: v for k, v in load.items() if not k.startswith("_")} for load in loads],
                "error": _error(facets),
            }
        )
    loads = session.scalars(select(t.Load).where(t.Load.run_id == run.id).order_by(t.Load.created_at, t.Load.id))
    return {"runId": run.uuid, "state": run.state, "events": items, "loads": [load_dict(session, r) for r in loads]}
