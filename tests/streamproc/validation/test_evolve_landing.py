"""``evolve`` on the real broker: new Delta columns by schema merge, variant columns, inferred versions in
``_contracts``, and a table that evolved past its contract reopening on restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, run_cli, write_pipeline
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka

EVOLVING = "tests.fixtures.contract_modes:EvolvingOrder"


def _contracts(files) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = read_table(str(files.lake / "_contracts")).to_pylist()
    return sorted(rows, key=lambda r: r["registered_at"])


def test_new_keys_become_columns_other_types_variants_and_the_registry_infers_a_version(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("evolve")
    events = [encode(order(i)) for i in range(40)]
    events[10] = encode(order(10, coupon="XMAS"))  # columns: a new column
    events[20] = encode(order(20, amount="lots"))  # data_type: a variant column
    events[30] = encode(order(30, amount=-5))  # a constraint, not a type: quarantined
    run_async(produce, kafka_bootstrap, topic, events)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract=EVOLVING, batch={"max_rows": 15})

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 0, result.stderr
    table = files.read("table")
    schema = DeltaTable(str(files.table)).schema().to_arrow()
    names = [f.name for f in schema]
    assert names[-2:] == ["coupon", "amount__v_text"]  # merged in, after the lineage columns
    rows = {r["order_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == [i for i in range(40) if i != 30]
    assert rows[10]["coupon"] == "XMAS" and rows[11]["coupon"] is None
    assert rows[20]["amount"] is None and rows[20]["amount__v_text"] == "lots"
    quarantine = files.read("quarantine").to_pylist()
    assert [(q["_offset"], q["violations"][0]["mode"]) for q in quarantine] == [(30, "discard_row")]

    history = _contracts(files)
    assert [(r["version"], r["origin"], r["parent_version"]) for r in history] == [
        (1, "declared", None), (2, "inferred", 1), (3, "inferred", 1)
    ]
    assert [c["path"] for c in json.loads(history[1]["changes"])] == ["coupon"]
    assert {(c["path"], c["kind"]) for c in json.loads(history[2]["changes"])} == {
        ("amount", "type_changed"), ("amount", "nullability_changed"), ("amount", "required_changed")
    }
    # a load's rows carry the version that describes the table after it (each is valid under it too)
    assert [rows[i]["_contract_version"] for i in (0, 14, 15, 39)] == [2, 2, 3, 3]
    loads = sorted(files.read("loads").to_pylist(), key=lambda r: r["committed_at"])
    assert [load["contract_version"] for load in loads] == [2, 3, 3]

    # a restart reopens the evolved table (a superset of the contract) and records no new version
    run_async(produce, kafka_bootstrap, topic, [encode(order(i, coupon=f"c{i}")) for i in range(40, 45)])
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr
    assert len(_contracts(files)) == 3
    later = {r["order_id"]: r for r in files.read("table").to_pylist()}
    assert later[44]["coupon"] == "c44" and later[44]["_contract_version"] == 3

    # a coupon of another type on the evolved column: a variant of it
    run_async(produce, kafka_bootstrap, topic, [encode(order(45, coupon=5))])
    assert run_cli("run", str(files.config), "--until-caught-up").returncode == 0
    last = {r["order_id"]: r for r in files.read("table").to_pylist()}[45]
    assert last["coupon"] is None and last["coupon__v_bigint"] == 5
    assert [r["version"] for r in _contracts(files)] == [1, 2, 3, 4]
