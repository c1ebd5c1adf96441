"""The PII inventory: which datasets and columns carry which tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.storage import tables as t
from catalog.storage.reads import current_fields, namespace_name
from catalog.tags import tag_matches

__all__ = ["pii"]


def pii(session: Session, *, tag: str | None = None) -> dict[str, Any]:
    """Which datasets and columns carry which tags, optionally only those matching ``tag`` (see ``catalog.tags``).

    Returns:
        ``{"tag": filter | None, "items": [{"namespace", "dataset", "field" (None: the whole dataset), "type",
        "tag", "description", "source"}]}`` sorted by dataset, field, tag.
    """
    items = []
    rows = session.execute(
        select(t.FieldTag.dataset_id, t.FieldTag.field, t.FieldTag.source, t.Tag).join(
            t.Tag, t.Tag.id == t.FieldTag.tag_id
        )
    ).all()
    rows += session.execute(
        select(t.DatasetTag.dataset_id, None, t.DatasetTag.source, t.Tag).join(t.Tag, t.Tag.id == t.DatasetTag.tag_id)
    ).all()
    types: dict[int, dict[str, str | None]] = {}
    for ds_id, field, source, tag_row in rows:
        if tag is not None and not tag_matches(tag_row.name, tag_row.key, tag_row.value, tag):
            continue
        dataset = session.get_one(t.Dataset, ds_id)
        if ds_id not in types:
            types[ds_id] = {f.name: f.type for f in current_fields(session, dataset)[1]}
        items.append(
            {
                "namespace": namespace_name(session, dataset.namespace_id),
                "dataset": dataset.name,
                "field": field,
                "type": types[ds_id].get(field) if field else None,
                "tag": tag_row.name,
                "description": tag_row.description,
                "source": source,
            }
        )
    items.sort(key=lambda i: (i["namespace"], i["dataset"], i["field"] or "", i["tag"]))
    return {"tag": tag, "items": items}
