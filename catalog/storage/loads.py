"""Recording streamproc loads (the custom ``streamproc_load`` and ``streamproc_loads`` run facets) with their Kafka
offset ranges."""

from __future__ import annotations

from sqlalchemy import select

from catalog.errors import InvalidEventError
from catalog.models import LoadFacet, RunFacets
from catalog.storage import tables as t
from catalog.storage.writer import Writer

__all__ = ["record_load", "reported_loads"]


def reported_loads(facets: RunFacets) -> list[LoadFacet]:
    """The loads a run event reports, oldest first, each once: the ``streamproc_loads`` entries (a window of loads,
    ``emit: every_n_seconds``), then ``streamproc_load`` (the newest, also the last entry of a window)."""
    found: dict[str, LoadFacet] = {}
    window = facets.streamproc_loads.loads if facets.streamproc_loads is not None else []
    for facet in [*window, *([facets.streamproc_load] if facets.streamproc_load is not None else [])]:
        found.setdefault(facet.load_id, facet)
    return list(found.values())


def record_load(
    w: Writer, facet: LoadFacet, run: t.Run, outputs: list[t.Dataset], *, schema_ids: dict[int, int] | None = None
) -> None:
    """Store one load (a ``streamproc_load`` facet, or an entry of ``streamproc_loads``) once per ``loadId``, on the
    output dataset version ``deltaVersion`` of the output named (or symlinked) ``table``; the version takes the
    load's contract. A version the load creates gets the schema ``schema_ids`` gives for its dataset (dataset id →
    schema version id), else the dataset's latest.

    Raises:
        InvalidEventError: ``table`` is neither the name nor a symlink of an output (and there are several).
    """
    if w.s.scalar(select(t.Load.id).where(t.Load.load_id == facet.load_id)) is not None:
        return  # re-sent event: the load is already recorded
    dataset = _load_target(w, facet.table, outputs)
    schema_id = (schema_ids or {}).get(dataset.id)
    version = w.dataset_version(dataset, str(facet.delta_version), schema_id=schema_id, run=run, facets={})
    contract_version = str(facet.contract.version)
    version.contract_name, version.contract_version = facet.contract.name, contract_version
    version.contract_hash = facet.contract.hash
    load = t.Load(
        load_id=facet.load_id,
        run_id=run.id,
        dataset_id=dataset.id,
        dataset_version_id=version.id,
        table=facet.table,
        delta_version=facet.delta_version,
        contract_name=facet.contract.name,
        contract_version=contract_version,
        contract_hash=facet.contract.hash,
        rows_landed=facet.rows_landed,
        rows_quarantined=facet.rows_quarantined,
        created_at=w.when,
    )
    w.s.add(load)
    w.s.flush()
    for rng in facet.offsets:
        w.s.add(t.LoadOffset(load_id=load.id, topic=rng.topic, partition=rng.partition, first=rng.first, last=rng.last))


def _load_target(w: Writer, table: str, outputs: list[t.Dataset]) -> t.Dataset:
    for dataset in outputs:
        if dataset.name == table or dataset.name.rstrip("/") == table.rstrip("/"):
            return dataset
    linked = {row.dataset_id for row in w.s.scalars(select(t.DatasetSymlink).where(t.DatasetSymlink.name == table))}
    for dataset in outputs:
        if dataset.id in linked:
            return dataset
    if len(outputs) == 1:
        return outputs[0]
    raise InvalidEventError(
        "streamproc_load.table matches no output dataset",
        errors=[
            {
                "loc": ["run", "facets", "streamproc_load", "table"],
                "type": "value_error",
                "msg": f"{table!r} is neither the name nor a symlink of an output: {[d.name for d in outputs]}",
            }
        ],
    )
