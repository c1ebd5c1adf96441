"""Writing one validated OpenLineage event into the catalog tables (one transaction per event).

What each event updates (all upserts, so a re-sent event changes nothing but the raw event log):

- ``events``: the payload verbatim.
- RunEvent: namespace and job (``jobType`` facet → type ``STREAM`` for ``processingType=STREAMING``, else ``BATCH``),
  the run (state = the eventType of the latest event by ``eventTime``; ``START`` sets ``started_at``,
  ``COMPLETE``/``FAIL``/``ABORT`` set ``ended_at``), job/run inputs and outputs, then each dataset's facets, then the
  ``streamproc_load`` run facet as a load; with ``streamproc_loads`` (a window of loads) every entry is a load, the
  earlier ones recorded before the outputs so that their Delta versions precede the newest one's.
- DatasetEvent: the dataset's facets. JobEvent: the job, its inputs/outputs and their facets.

Dataset facets (``facets`` merged with ``inputFacets``/``outputFacets``):

- ``schema``: a schema version, deduplicated per dataset by ``schema_hash``; its fields flattened to dotted paths.
- ``version``: the dataset version with that ``datasetVersion`` (a Delta version); without it, a schema hash other
  than the latest version's makes a new (unnumbered) dataset version, unless the event is older than that version
  (re-sent or late events do not bring a superseded schema back).
- ``tags``: replaces the dataset's tags and column tags (entries with ``field``), together with the non-standard
  ``tags`` of schema fields; schema-field tags alone replace only the column tags.
- ``symlinks``: replace the dataset's symlinks. ``documentation``: description.
- ``columnLineage``: on a job's output, replaces the dataset's column lineage from that job's inputs (a table two
  jobs write, the pipeline and its quarantine replay, keeps both); in a DatasetEvent, all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog.models import DatasetEvent, JobEvent, RunEvent
from catalog.storage import tables as t
from catalog.storage.loads import record_load, reported_loads
from catalog.storage.writer import Writer, utc

__all__ = ["ingest_event"]


def ingest_event(
    session: Session, event: RunEvent | DatasetEvent | JobEvent, raw: dict[str, Any], *, now: datetime | None = None
) -> None:
    """Store ``event`` (already validated; ``raw`` is its JSON payload) and everything it says.

    Raises:
        InvalidEventError: a ``streamproc_load`` facet (or ``streamproc_loads`` entry) names a table that is not an
            output of the event.
        sqlalchemy.exc.SQLAlchemyError: the database failed (translated to ``StorageError`` by ``Database.session``).
    """
    w = Writer(session, utc(now or datetime.now(UTC)), utc(event.event_time))
    kind = "run" if isinstance(event, RunEvent) else "dataset" if isinstance(event, DatasetEvent) else "job"
    job_ref = None if isinstance(event, DatasetEvent) else event.job
    session.add(
        t.Event(
            kind=kind,
            event_type=event.event_type if isinstance(event, RunEvent) else None,
            event_time=utc(event.event_time),
            run_uuid=str(event.run.run_id) if isinstance(event, RunEvent) else None,
            job_namespace=job_ref.namespace if job_ref else None,
            job_name=job_ref.name if job_ref else None,
            producer=event.producer,
            received_at=w.now,
            payload=raw,
        )
    )
    if isinstance(event, DatasetEvent):
        w.apply_dataset(event.dataset, raw.get("dataset") or {}, run=None, extra=None)
        return
    job = w.job(event, raw)
    run = w.run(event, job, raw) if isinstance(event, RunEvent) else None
    loads = reported_loads(event.run.facets) if isinstance(event, RunEvent) else []
    if run is not None and len(loads) > 1:
        # A window's earlier loads first: their Delta versions are older than the newest load's (the outputs'
        # ``version`` facet), and dataset versions are ordered as they are made. They share the newest's schema (a
        # window never spans a contract change).
        targets = [w.dataset(ds.namespace, ds.name) for ds in event.outputs]
        schema_ids = {
            target.id: w.schema_version(target, ds.facets.schema_.fields).id
            for ds, target in zip(event.outputs, targets, strict=True)
            if ds.facets.schema_ is not None and not ds.facets.schema_.deleted
        }
        for facet in loads[:-1]:
            record_load(w, facet, run, targets, schema_ids=schema_ids)
    outputs: list[t.Dataset] = []
    for direction, items, key, extra in (
        ("in", event.inputs, "inputs", "input"),
        ("out", event.outputs, "outputs", "output"),
    ):
        for ds, ds_raw in zip(items, raw.get(key) or [], strict=True):
            dataset = w.apply_dataset(
                ds,
                ds_raw,
                run=run if direction == "out" else None,
                extra=extra,
                job_inputs=w.job_inputs(job) if direction == "out" else None,
            )
            w.link(t.JobDataset, "job_id", job.id, dataset.id, direction)
            if run is not None:
                w.link(t.RunDataset, "run_id", run.id, dataset.id, direction)
            if direction == "out":
                outputs.append(dataset)
    if run is not None and loads:
        record_load(w, loads[-1], run, outputs)
