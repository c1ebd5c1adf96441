"""``streamproc run`` on a file source: a bounded run into real Delta tables, resumed exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from deltalake import DeltaTable

from tests.fixtures.pipelines import encode, order, run_cli
from streamproc.sinks.reader import read_table


def _write_pipeline(tmp_path: Path, data: Path) -> Path:
    config = {
        "name": "backfill",
        "contract": "tests.fixtures.order_contracts:Order",
        "source": {"type": "file", "path": data.name},
        "sink": {"table_uri": "lake/orders"},
        "batch": {"max_rows": 400},
        "observability": {"port": 0},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_file_lands_once_and_a_rerun_only_lands_what_was_appended(tmp_path: Path) -> None:
    data = tmp_path / "orders.ndjson"
    lines = [encode(order(i)) for i in range(1000)]
    lines[10] = b'{"order_id": "ten"}'
    data.write_bytes(b"\n".join(lines) + b"\n")
    config = _write_pipeline(tmp_path, data)

    first = run_cli("run", str(config), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["rows_landed"], summary["rows_quarantined"], summary["loads"]) == (999, 1, 3)
    assert summary["stopped_by"] == "caught_up"

    again = run_cli("run", str(config), "--json")
    assert json.loads(again.stdout)["events"] == 0

    with data.open("ab") as handle:
        handle.write(b"\n".join(encode(order(i)) for i in range(1000, 1100)) + b"\n")
    third = run_cli("run", str(config), "--json")
    assert json.loads(third.stdout)["rows_landed"] == 100

    table = read_table(str(tmp_path / "lake" / "orders"))
    assert sorted(table["order_id"].to_pylist()) == [i for i in range(1100) if i != 10]
    assert set(table["_source"].to_pylist()) == {data.resolve().as_uri()}
    quarantine = read_table(str(tmp_path / "lake" / "orders__quarantine"))
    assert quarantine["_offset"].to_pylist() == [10]


def test_validating_in_a_worker_process_lands_what_validating_in_process_lands(tmp_path: Path) -> None:
    data = tmp_path / "orders.ndjson"
    lines = [encode(order(i)) for i in range(900)]
    lines[3] = b'{"order_id": "three"}'
    lines[500] = b"not json"
    data.write_bytes(b"\n".join(lines) + b"\n")
    config = _write_pipeline(tmp_path, data)
    settings = yaml.safe_load(config.read_text())
    outcome = {}
    for workers in (0, 1):
        settings["sink"]["table_uri"] = f"lake/w{workers}/orders"
        settings["validation"] = {"workers": workers}
        config.write_text(yaml.safe_dump(settings))
        run = run_cli("run", str(config), "--json")
        assert run.returncode == 0, run.stderr
        assert ("validating in 1 worker process(es)" in run.stderr) == bool(workers)
        summary = json.loads(run.stdout)
        table = read_table(str(tmp_path / "lake" / f"w{workers}" / "orders"))
        quarantine = read_table(str(tmp_path / "lake" / f"w{workers}" / "orders__quarantine"))
        outcome[workers] = (
            (summary["rows_landed"], summary["rows_quarantined"], summary["loads"]),
            table.drop_columns(["_load_id", "_ingested_at"]).sort_by("_offset").to_pylist(),
            quarantine.select(["_offset", "disposition", "violations"]).sort_by("_offset").to_pylist(),
        )
    assert outcome[0][0] == (898, 2, 3)
    assert outcome[1] == outcome[0]


NESTED_CONTRACT = '''
from pydantic import BaseModel
from contracts import Contract

class Address(BaseModel):
    street: str
    zip: str

class Visit(Contract, name="visits", version=1):
    visit_id: int
    address: Address | None = None
'''


def test_an_optional_nested_model_that_is_null_in_some_events_lands(tmp_path: Path) -> None:
    # A null struct over non-nullable children: the decoder fills the children with nulls under the struct's own,
    # valid Arrow that a cast (even to the same type) refuses; the append used to crash with ArrowInvalid.
    (tmp_path / "visits_contract.py").write_text(NESTED_CONTRACT)
    addresses = [{"street": f"s{i}", "zip": "10115"} if i % 3 == 0 else None for i in range(30)]
    events = [{"visit_id": i, "address": a} for i, a in enumerate(addresses)]
    del events[1]["address"]  # absent, not null: the default
    data = tmp_path / "visits.ndjson"
    for size in (3, 30):  # below the fast path's minimum (per row), and the fast path
        data.write_bytes(b"\n".join(encode(e) for e in events[:size]) + b"\n")
        (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({
            "name": "visits", "contract": "visits_contract:Visit", "source": {"type": "file", "path": data.name},
            "sink": {"table_uri": f"lake/{size}/visits"}, "observability": {"enabled": False},
        }))

        run = run_cli("run", str(tmp_path / "pipeline.yaml"), "--json")

        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["rows_landed"] == size
        table = read_table(str(tmp_path / "lake" / str(size) / "visits")).sort_by("visit_id")
        assert table["address"].to_pylist() == addresses[:size]


def test_a_run_records_its_loads_in_groups_of_rows_and_every_load_has_its_row(tmp_path: Path) -> None:
    data = tmp_path / "orders.ndjson"
    data.write_bytes(b"\n".join(encode(order(i)) for i in range(1000)) + b"\n")
    config = _write_pipeline(tmp_path, data)
    settings = yaml.safe_load(config.read_text())
    settings["batch"]["max_rows"] = 100
    config.write_text(yaml.safe_dump(settings))

    result = run_cli("run", str(config), "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["loads"] == 10
    lake = tmp_path / "lake"
    loads = read_table(str(lake / "_loads")).to_pylist()
    assert len(loads) == 10 and sum(load["rows_landed"] for load in loads) == 1000
    assert set(read_table(str(lake / "orders"))["_load_id"].to_pylist()) == {load["load_id"] for load in loads}
    # Rows are recorded RECORD_LOADS_EVERY (8) loads at a time, and when the commit stage idles 0.2 s or the run
    # ends: two commits on a quiet machine, a few more on a loaded one, never one per load.
    commits = DeltaTable(str(lake / "_loads")).version()  # version 0 created the table
    assert 2 <= commits < 10
