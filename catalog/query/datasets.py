"""Datasets as the query API names them: a reference (id, namespace, name, symlinks) and what kind of dataset it is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, namespace_name

__all__ = ["dataset_ref"]


def dataset_ref(session: Session, dataset: t.Dataset) -> dict[str, Any]:
    symlinks = session.scalars(select(t.DatasetSymlink.name).where(t.DatasetSymlink.dataset_id == dataset.id)).all()
    return {
        "id": dataset_id(session, dataset),
        "namespace": namespace_name(session, dataset.namespace_id),
        "name": dataset.name,
        "symlinks": sorted(symlinks),
    }
