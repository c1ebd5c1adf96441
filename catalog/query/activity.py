"""What the home page shows: the newest loads across the lake, and the tables whose quarantine is growing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.query.datasets import QUARANTINE_SUFFIX, dataset_ref
from catalog.query.loads import load_dict
from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, iso

__all__ = ["overview", "quarantine_growth", "recent_loads"]


def recent_loads(session: Session, *, limit: int = 15) -> list[dict[str, Any]]:
    """The newest loads of every table, newest first (shapes as in ``catalog.query.loads``)."""
    rows = session.scalars(select(t.Load).order_by(t.Load.created_at.desc(), t.Load.id.desc()).limit(limit)).all()
    return [load_dict(session, r) for r in rows]


def quarantine_growth(
    session: Session, *, window: timedelta = timedelta(hours=24), now: datetime | None = None
) -> list[dict[str, Any]]:
    """Tables whose loads quarantined rows within ``window`` before ``now``, most quarantined first.

    Returns:
        ``[{"dataset": {...}, "quarantine": id of the ``__quarantine`` companion | None, "rowsQuarantined" (in the
        window), "rowsLanded" (in the window), "quarantineRate" (0..1), "totalQuarantined" (all loads),
        "lastAt"}]``.
    """
    since = (now or datetime.now(UTC)) - window
    recent = session.execute(
        select(
            t.Load.dataset_id,
            func.sum(t.Load.rows_quarantined),
            func.sum(t.Load.rows_landed),
            func.max(t.Load.created_at),
        )
        .where(t.Load.created_at >= since)
        .group_by(t.Load.dataset_id)
    ).all()
    totals = dict(
        session.execute(select(t.Load.dataset_id, func.sum(t.Load.rows_quarantined)).group_by(t.Load.dataset_id)).all()
    )
    growing = []
    for ds_id, quarantined, landed, last in recent:
        if not quarantined:
            continue
        dataset = session.get_one(t.Dataset, ds_id)
        companion = session.scalar(
            select(t.Dataset).where(
                t.Dataset.namespace_id == dataset.namespace_id,
                t.Dataset.name == dataset.name.rstrip("/") + QUARANTINE_SUFFIX,
            )
        )
        growing.append(
            {
                "dataset": dataset_ref(session, dataset),
                "quarantine": dataset_id(session, companion) if companion is not None else None,
                "rowsQuarantined": int(quarantined),
                "rowsLanded": int(landed or 0),
                "quarantineRate": int(quarantined) / (int(quarantined) + int(landed or 0)),
                "totalQuarantined": int(totals.get(ds_id) or 0),
                "lastAt": iso(last),
            }
        )
    growing.sort(key=lambda g: (-g["rowsQuarantined"], g["dataset"]["id"]))
    return growing


def overview(session: Session) -> dict[str, int]:
    """Counts for the home page: ``{"datasets", "jobs", "runs", "loads"}``."""
    return {
        "datasets": session.scalar(select(func.count(t.Dataset.id))) or 0,
        "jobs": session.scalar(select(func.count(t.Job.id))) or 0,
        "runs": session.scalar(select(func.count(t.Run.id))) or 0,
        "loads": session.scalar(select(func.count(t.Load.id))) or 0,
    }
