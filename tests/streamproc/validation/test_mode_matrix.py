"""Each mode on each entity, end to end on the real broker: one violating event among valid ones.

``columns`` is violated by an undeclared field (``coupon``), ``data_type`` by a value of another type in a nullable
field (``country: 42``). The ``tables`` entity is exercised with routing in test_upcast_routing.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, run_cli, write_pipeline

pytestmark = pytest.mark.kafka

CONTRACT = "tests.fixtures.mode_matrix:OpenOrder"
VIOLATIONS = {
    "columns": ("coupon", {"coupon": "XMAS"}),
    "data_type": ("country", {"country": 42}),
}
BAD = 3  # the violating event's offset


@pytest.mark.parametrize("entity", ["columns", "data_type"])
@pytest.mark.parametrize("mode", ["freeze", "discard_row", "discard_value", "evolve"])
def test_each_mode_on_each_entity(kafka_bootstrap: str, tmp_path: Path, entity: str, mode: str) -> None:
    field, overrides = VIOLATIONS[entity]
    topic = new_topic(f"{entity}-{mode}".replace("_", "-"))
    events = [encode(order(i)) for i in range(7)]
    events[BAD] = encode(order(BAD, **overrides))
    run_async(produce, kafka_bootstrap, topic, events, partitions=1)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract=CONTRACT, contract_mode={entity: mode})
    files_table = files.table

    result = run_cli("run", str(files.config), "--until-caught-up", "--json")

    if mode == "freeze":
        assert result.returncode == 3, result.stdout + result.stderr
        assert f"frozen on '{entity}'" in result.stderr and f"'{field}'" in result.stderr
        assert f"{topic}[0]@{BAD}" in result.stderr
        assert not files_table.exists() or all(o < BAD for o in _read(files_table)["_offset"].to_pylist())
        return
    assert result.returncode == 0, result.stderr
    table = _read(files_table)
    landed = {row["order_id"]: row for row in table.to_pylist()}
    quarantine = _read(files.quarantine).to_pylist()
    if mode == "discard_row":
        assert sorted(landed) == [i for i in range(7) if i != BAD]
        (rejected,) = quarantine
        assert rejected["_offset"] == BAD and rejected["disposition"] == "row_discarded"
        assert (rejected["violations"][0]["entity"], rejected["violations"][0]["mode"]) == (entity, mode)
    elif mode == "discard_value":
        assert sorted(landed) == list(range(7))
        assert landed[BAD].get(field) is None
        (rejected,) = quarantine
        assert rejected["disposition"] == "value_discarded"
        assert json.loads(rejected["removed_values"]) == overrides
    else:  # evolve: nothing quarantined, the value lands in a new column
        assert sorted(landed) == list(range(7)) and quarantine == []
        value = next(iter(overrides.values()))
        if entity == "columns":
            assert landed[BAD]["coupon"] == value and landed[0]["coupon"] is None
        else:
            variants = [name for name in table.column_names if name.startswith("country__v_")]
            assert variants, table.column_names
            assert landed[BAD][variants[0]] == value and landed[BAD]["country"] is None


def _read(path: Path):  # noqa: ANN202 - a pyarrow.Table
    from streamproc.sinks.reader import read_table

    return read_table(str(path))
