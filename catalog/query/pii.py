"""The PII inventory: which datasets and columns carry which tags, with the action their producer applies, and the
PII map: every PII column and where it flows along column lineage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.query.datasets import dataset_kind, pii_actions
from catalog.storage import tables as t
from catalog.storage.reads import current_fields, dataset_id, namespace_name
from catalog.tags import is_pii, tag_matches

__all__ = ["pii", "pii_map"]


def pii(session: Session, *, tag: str | None = None) -> dict[str, Any]:
    """Which datasets and columns carry which tags, optionally only those matching ``tag`` (see ``catalog.tags``).

    Returns:
        ``{"tag": filter | None, "items": [{"namespace", "dataset", "field" (None: the whole dataset), "type",
        "tag", "description", "source", "action" (the column's PII action: keep / hash / mask / drop, or None when
        its producer does not say)}]}`` sorted by dataset, field, tag.
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
    actions: dict[int, dict[str, str]] = {}
    for ds_id, field, source, tag_row in rows:
        if tag is not None and not tag_matches(tag_row.name, tag_row.key, tag_row.value, tag):
            continue
        dataset = session.get_one(t.Dataset, ds_id)
        if ds_id not in types:
            types[ds_id] = {f.name: f.type for f in current_fields(session, dataset)[1]}
            actions[ds_id] = pii_actions(dataset)
        items.append(
            {
                "namespace": namespace_name(session, dataset.namespace_id),
                "dataset": dataset.name,
                "field": field,
                "type": types[ds_id].get(field) if field else None,
                "tag": tag_row.name,
                "description": tag_row.description,
                "source": source,
                "action": actions[ds_id].get(field) if field else None,
            }
        )
    items.sort(key=lambda i: (i["namespace"], i["dataset"], i["field"] or "", i["tag"]))
    return {"tag": tag, "items": items}


def pii_map(session: Session) -> dict[str, Any]:
    """Every column that carries a PII tag (``pii``, ``pii:<category>`` or a PII category), across datasets, and
    where it flows: the columns computed from it (downstream) and those it is computed from (upstream), through
    ``columnLineage`` facets.

    Returns:
        ``{"columns": [{"dataset": id, "kind", "namespace", "name", "field", "type" (None: not in the current
        schema, e.g. dropped before landing), "tags": [names], "action": keep / hash / mask / drop | None,
        "downstream": ["datasetField:<ns>:<name>:<field>"], "upstream": [...]}]}`` sorted by dataset, field.
    """
    rows = session.execute(
        select(t.FieldTag.dataset_id, t.FieldTag.field, t.Tag.name).join(t.Tag, t.Tag.id == t.FieldTag.tag_id)
    ).all()
    columns: dict[tuple[int, str], list[str]] = {}
    for ds_id, field, name in rows:
        if is_pii(name):
            columns.setdefault((ds_id, field), []).append(name)
    lineage = session.execute(
        select(
            t.ColumnLineage.dataset_id,
            t.ColumnLineage.field,
            t.ColumnLineage.input_dataset_id,
            t.ColumnLineage.input_field,
        ).where(t.ColumnLineage.field.is_not(None))
    ).all()
    labels: dict[int, tuple[str, str]] = {}

    def label(ds_id: int, field: str) -> str:
        if ds_id not in labels:
            ds = session.get_one(t.Dataset, ds_id)
            labels[ds_id] = (namespace_name(session, ds.namespace_id), ds.name)
        ns, name = labels[ds_id]
        return f"datasetField:{ns}:{name}:{field}"

    items = []
    for (ds_id, field), tags in columns.items():
        dataset = session.get_one(t.Dataset, ds_id)
        namespace = namespace_name(session, dataset.namespace_id)
        types = {f.name: f.type for f in current_fields(session, dataset)[1]}
        items.append(
            {
                "dataset": dataset_id(session, dataset),
                "kind": dataset_kind(namespace, dataset),
                "namespace": namespace,
                "name": dataset.name,
                "field": field,
                "type": types.get(field),
                "tags": sorted(tags),
                "action": pii_actions(dataset).get(field),
                "downstream": sorted(label(o, of) for o, of, i, f in lineage if (i, f) == (ds_id, field)),
                "upstream": sorted(label(i, f) for o, of, i, f in lineage if (o, of) == (ds_id, field)),
            }
        )
    items.sort(key=lambda i: (i["dataset"], i["field"]))
    return {"columns": items}
