"""``streamproc lineage backfill`` describes each load's table with the columns its Delta log has, as the live
pipeline does (the real CLI, a file source, real Delta tables): a version that removed a field leaves the column in
the table, and an event rebuilt with the contract's schema instead told the catalog, re-sent over the live one, that
the column was dropped ("BREAKING: -note" in ``catalog schema-history``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from deltalake import DeltaTable

from tests.fixtures.pipelines import run_cli

CONTRACTS = """
from contracts import Contract

class Order(Contract, name="orders", version=1):
    order_id: int
    note: str | None = None

class OrderV2(Contract, name="orders", version=2, compatibility="NONE"):
    order_id: int
"""


def test_backfilled_events_describe_the_tables_columns_not_the_contracts(tmp_path: Path) -> None:
    (tmp_path / "schema_orders.py").write_text(CONTRACTS)
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)
    config = tmp_path / "pipeline.yaml"
    table = tmp_path / "lake" / "orders"

    def run(contract: str, events: str) -> None:
        (tmp_path / "events.ndjson").write_text(events)
        config.write_text(yaml.safe_dump({
            "name": "orders", "contract": f"schema_orders:{contract}",
            "source": {"type": "file", "path": "events.ndjson"}, "sink": {"table_uri": "lake/orders"},
            "observability": {"enabled": False},
        }))
        result = run_cli("run", str(config))
        assert result.returncode == 0, result.stdout + result.stderr

    run("Order", '{"order_id": 1, "note": "a"}\n')
    run("OrderV2", '{"order_id": 1, "note": "a"}\n{"order_id": 2}\n')  # the file again: only offset 1 is new
    columns = [f.name for f in DeltaTable(str(table)).schema().to_arrow()]
    assert "note" in columns  # v2 removed the field, not the table's column

    backfill = run_cli("lineage", "backfill", str(config), "--dry-run")

    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    described = [
        (e["eventType"], [f["name"] for f in o["facets"]["schema"]["fields"]])
        for e in map(json.loads, backfill.stdout.splitlines())
        for o in e["outputs"] if o["name"] == str(table)
    ]
    assert [kind for kind, _ in described] == ["START", "RUNNING", "START", "RUNNING"]
    assert all(fields == columns for _, fields in described), described
