"""Contestant 6: Delta write-only, the landing ceiling.

The accepted rows are validated and built into one Arrow table *before* the clock starts (the contract's Arrow
schema); timed is only ``write_deltalake`` appending it in commits of ``batch_rows`` rows, streamproc's micro-batch
size. Its events/s counts the input events, so that it compares with the others as "if landing were all". Its peak
RSS includes the whole table, held in memory before the writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import write_deltalake
from pydantic import ValidationError

from bench.contestants import clock, load_model, pages, since
from contracts import contract_arrow_schema

__all__ = ["run", "accepted_table"]


def accepted_table(reference: str, path: str | Path) -> pa.Table:
    """The valid events of the file as an Arrow table with the contract's schema (built 10,000 rows at a time, so
    that the peak RSS is mostly the table itself)."""
    model = load_model(reference)
    schema = contract_arrow_schema(model)
    parts = []
    for page in pages(path, 10_000):
        rows = []
        for line in page:
            try:
                rows.append(model.model_validate_json(line).model_dump())
            except ValidationError:
                continue
        parts.append(pa.Table.from_pylist(rows, schema=schema))
    return pa.concat_tables(parts).combine_chunks() if parts else schema.empty_table()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    data = spec["data"]
    table = accepted_table(data["contract"], data["path"])
    uri = str(Path(spec["workdir"]) / "lake" / data["name"])
    step = spec["batch_rows"]
    # Each commit's rows copied out before the clock starts: delta-rs 1.6 panics ("assertion failed: end <=
    # self.len()", an abort) writing a zero-copy slice of a table with lists inside structs (the segment data).
    parts = [table.take(pa.array(range(o, min(o + step, table.num_rows)))) for o in range(0, table.num_rows, step)]
    started = clock()
    for part in parts or [table]:
        write_deltalake(uri, part, mode="append")
    return {"events": data["events"], "rows_written": table.num_rows, **since(started), "tables": {"table": uri}}
