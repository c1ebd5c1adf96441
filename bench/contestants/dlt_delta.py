"""Contestant 5: dlt (latest from PyPI, in var/bench-venv) into a local Delta table, its fastest documented setup.

The contract's pydantic model is the resource's ``columns`` and ``schema_contract`` is ``discard_row`` (dlt's own
vocabulary, which streamproc's modes follow), destination ``filesystem`` with ``table_format="delta"``. Events are
parsed with orjson (dlt's own JSON library) and yielded as pages of 10,000 dicts ("yield pages instead of rows",
dlt's performance guide). dlt's buffers hold a page (``DATA_WRITER__BUFFER_MAX_ITEMS``) and its intermediary
files are not compressed (see ``_DEFAULT_ENV``); the spec's ``dlt_env`` can override any of dlt's settings.
Timed: ``dlt.pipeline`` and ``pipeline.run`` (extract, normalize, load).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

__all__ = ["run", "PAGE_ROWS", "SCHEMA_CONTRACT"]

PAGE_ROWS = 10_000
SCHEMA_CONTRACT = {"tables": "evolve", "columns": "discard_row", "data_type": "discard_row"}
"""``discard_row`` for rows; ``tables: evolve`` because with the one-word ``"discard_row"`` dlt discards every row
of a table it has not created yet, so nothing would land (streamproc creates the table from the contract)."""
_DEFAULT_ENV = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",  # no network beyond loopback here; and not part of the work
    "DATA_WRITER__BUFFER_MAX_ITEMS": str(PAGE_ROWS),
    # The intermediary files uncompressed: extract 8.3 s -> 5.5 s on 200k orders (no gzip of what normalize reads
    # back at once). Parallel normalize (NORMALIZE__WORKERS=2 with file rotation, the guide's advice for one big
    # resource) gained nothing measurable on 2 shared CPUs and cost ~110 MiB more: left at dlt's default (one process).
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    os.environ.update({**_DEFAULT_ENV, **spec.get("dlt_env", {})})
    import dlt
    import orjson

    from bench.contestants import clock, load_model, pages, since

    data = spec["data"]
    model = load_model(data["contract"])
    workdir = Path(spec["workdir"])
    events = 0

    @dlt.resource(name=data["name"], columns=model, schema_contract=SCHEMA_CONTRACT, table_format="delta")
    def events_of_file() -> Any:
        nonlocal events
        for page in pages(data["path"], PAGE_ROWS):
            events += len(page)
            yield [orjson.loads(line) for line in page]

    started = clock()
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{uuid.uuid4().hex[:8]}",
        pipelines_dir=str(workdir / "dlt"),
        destination=dlt.destinations.filesystem(bucket_url=(workdir / "lake").as_uri()),
        dataset_name="bench",
    )
    pipeline.run(events_of_file(), loader_file_format="parquet")
    timing = since(started)
    table = workdir / "lake" / "bench" / data["name"]
    steps = {step.step: (step.finished_at - step.started_at).total_seconds() for step in pipeline.last_trace.steps}
    return {"events": events, **timing, "tables": {"table": str(table)}, "dlt_version": dlt.__version__,
            "dlt_step_seconds": steps}
