"""Contestant 4: the per-row pydantic baseline, what one writes by hand first.

``model_validate_json`` per event; valid rows are dumped to dicts, and every 10,000 of them become an Arrow table
(``pyarrow.Table.from_pylist`` with the contract's Arrow schema) appended with ``write_deltalake``. Invalid events
are counted and dropped: nothing records them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake
from pydantic import ValidationError

from bench.contestants import clock, load_model, since
from contracts import contract_arrow_schema

__all__ = ["run", "ROWS_PER_WRITE"]

ROWS_PER_WRITE = 10_000


def run(spec: dict[str, Any]) -> dict[str, Any]:
    data = spec["data"]
    model = load_model(data["contract"])
    schema = contract_arrow_schema(model)
    uri = str(Path(spec["workdir"]) / "lake" / data["name"])
    started = clock()
    events = dropped = 0
    rows: list[dict[str, Any]] = []
    with Path(data["path"]).open("rb") as handle:
        for line in handle:
            events += 1
            try:
                rows.append(model.model_validate_json(line).model_dump())
            except ValidationError:
                dropped += 1
                continue
            if len(rows) >= ROWS_PER_WRITE:
                write_deltalake(uri, pa.Table.from_pylist(rows, schema=schema), mode="append")
                rows = []
    if rows:
        write_deltalake(uri, pa.Table.from_pylist(rows, schema=schema), mode="append")
    return {"events": events, **since(started), "dropped_counted": dropped, "tables": {"table": uri}}
