"""Loads: which load (offsets, contract, run) produced each Delta version of a dataset, and which load landed an offset."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.query.datasets import dataset_ref
from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, iso, resolve_dataset

__all__ = ["load_dict", "loads", "loads_for_offset"]


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
    return {"topic": topic, "partition": partition, "offset": offset, "loads": [load_dict(session, r) for r in rows]}
