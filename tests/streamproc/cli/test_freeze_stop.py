"""A ``freeze`` stop as a user meets it (the real CLI, a file source, real Delta tables): exit 3, the error names the
contract, entity, field and event, says nothing of its batch was committed and what to do next; a restart after
fixing the contract lands the rest with nothing lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import run_cli

CONTRACT = """
from contracts import Contract

class Order(Contract, name="orders", version=1, mode={{"columns": "{columns}"}}):
    order_id: int
"""


def _project(tmp_path: Path, *, columns: str) -> Path:
    (tmp_path / "frozen_orders.py").write_text(CONTRACT.format(columns=columns))
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)  # an edit must not run stale bytecode
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({
        "name": "orders",
        "contract": "frozen_orders:Order",
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/orders"},
        "batch": {"max_rows": 2},
        "observability": {"port": 0},
    }))
    return config


def test_a_freeze_stop_says_what_was_committed_and_what_to_do_next(tmp_path: Path) -> None:
    events = [{"order_id": i} for i in range(5)]
    events[3]["coupon"] = "X"  # an undeclared key: columns=freeze stops the pipeline there
    (tmp_path / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    frozen = run_cli("run", str(_project(tmp_path, columns="freeze")))

    assert frozen.returncode == 3, frozen.stdout + frozen.stderr
    assert "contract 'orders' v1 is frozen on 'columns': field 'coupon'" in frozen.stderr
    assert "at events.ndjson[0]@3; nothing from this event on was committed" in frozen.stderr
    assert "fix the producer, or the contract (its mode, or a new version), and run again" in frozen.stderr
    table = tmp_path / "lake" / "orders"
    assert sorted(read_table(str(table), columns=["order_id"])["order_id"].to_pylist()) == [0, 1]

    again = run_cli("run", str(_project(tmp_path, columns="discard_value")))

    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(read_table(str(table), columns=["order_id"])["order_id"].to_pylist()) == [0, 1, 2, 3, 4]
