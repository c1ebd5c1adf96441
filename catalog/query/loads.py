"""Loads: which load (offsets, contract, run) produced each Delta version of a dataset, and which load landed an offset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.query.datasets import dataset_ref
from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, iso, resolve_dataset
from catalog.storage.writer import utc

__all__ = ["load_dict", "load_series", "loads", "loads_for_offset"]


def load_dict(session: Session, load: t.Load) -> dict[str, Any]:
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
    return {"dataset": dataset_ref(session, dataset), "loads": [load_dict(session, r) for r in rows]}


def loads_for_offset(session: Session, *, topic: str, partition: int, offset: int) -> dict[str, Any]:
    """Which loads (and Delta versions) read Kafka ``topic``/``partition``/``offset``: a pipeline load's offsets are
    every event it read, landed or quarantined; a replay load's, the quarantined events it landed. Usually one; more
    if the offset was landed into several tables, or quarantined and then replayed.

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
    return {"topic": topic, "partition": partition, "offset": offset, "loads": [load_dict(session, r) for r in rows]}


def load_series(session: Session, ref: str, *, buckets: int = 40) -> dict[str, Any]:
    """Throughput and quarantine rate of a table over time, from its loads, in at most ``buckets`` equal time
    buckets (one per load when the loads are fewer).

    Returns:
        ``{"dataset": {...}, "bucketSeconds": float, "points": [{"at": ISO time of the bucket's start, "t": unix
        seconds, "loads", "rowsLanded", "rowsQuarantined", "rowsPerSecond" (landed rows / bucket seconds, or None
        for a one-bucket history), "quarantineRate" (quarantined / (landed + quarantined), 0..1)}]}``.

    Raises:
        NotFoundError, AmbiguousNameError: see ``resolve_dataset``.
    """
    dataset = resolve_dataset(session, ref)
    rows = session.execute(
        select(t.Load.created_at, t.Load.rows_landed, t.Load.rows_quarantined)
        .where(t.Load.dataset_id == dataset.id)
        .order_by(t.Load.created_at, t.Load.id)
    ).all()
    if not rows:
        return {"dataset": dataset_ref(session, dataset), "bucketSeconds": 0.0, "points": []}
    times = [utc(r[0]).timestamp() for r in rows]
    span = times[-1] - times[0]
    width = span / buckets if span > 0 else 0.0
    grouped: dict[int, list[Any]] = {}
    for at, row in zip(times, rows, strict=True):
        index = min(int((at - times[0]) / width), buckets - 1) if width else 0
        grouped.setdefault(index, []).append(row)
    points = []
    for index in sorted(grouped):
        members = grouped[index]
        landed = sum(r[1] for r in members)
        quarantined = sum(r[2] for r in members)
        start = times[0] + index * width
        points.append(
            {
                "at": iso(datetime.fromtimestamp(start, UTC)),
                "t": start,
                "loads": len(members),
                "rowsLanded": landed,
                "rowsQuarantined": quarantined,
                "rowsPerSecond": landed / width if width else None,
                "quarantineRate": quarantined / (landed + quarantined) if landed + quarantined else 0.0,
            }
        )
    return {"dataset": dataset_ref(session, dataset), "bucketSeconds": width, "points": points}
