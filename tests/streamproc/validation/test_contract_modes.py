"""Contract modes on the real broker: field overrides, the pipeline config's contract_mode, each entity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, run_cli, write_pipeline

pytestmark = pytest.mark.kafka

ORDER = "tests.fixtures.contract_modes:Order"


def test_a_field_override_beats_the_contract_and_the_config_fills_the_rest(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("modes")
    events = [encode(order(i)) for i in range(30)]
    events[5] = encode(order(5, country=42))  # field override discard_value: lands, country null
    events[9] = encode(order(9, amount=-1))  # contract data_type=discard_row: quarantined
    events[12] = encode(order(12, coupon="X"))  # config columns=discard_value: lands without coupon
    run_async(produce, kafka_bootstrap, topic, events)
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract=ORDER, contract_mode={"columns": "discard_value"}
    )

    result = run_cli("run", str(files.config), "--until-caught-up", "--json")

    assert result.returncode == 0, result.stderr
    table, quarantine = files.read("table"), files.read("quarantine")
    landed = {row["order_id"]: row for row in table.to_pylist()}
    assert sorted(landed) == [i for i in range(30) if i != 9]
    assert landed[5]["country"] is None and landed[12]["order_id"] == 12
    by_offset = {row["_offset"]: row for row in quarantine.to_pylist()}
    assert by_offset[5]["disposition"] == "value_discarded"
    assert json.loads(by_offset[5]["removed_values"]) == {"country": 42}
    assert by_offset[5]["violations"][0]["mode"] == "discard_value"
    assert by_offset[9]["disposition"] == "row_discarded"
    assert by_offset[9]["violations"][0]["mode"] == "discard_row"
    assert by_offset[12]["disposition"] == "value_discarded"
    assert by_offset[12]["violations"][0] | {"message": ""} == {
        "loc": "coupon", "type": "extra_forbidden", "message": "", "entity": "columns", "mode": "discard_value"
    }


def test_the_config_fills_only_what_the_contract_leaves_open(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("modes-freeze")
    events = [encode(order(i)) for i in range(10)]
    events[2] = encode(order(2, amount=-1))  # data_type: the contract's discard_row beats the config's freeze
    events[4] = encode(order(4, coupon="X"))  # columns: unset by the contract, the config's freeze applies
    run_async(produce, kafka_bootstrap, topic, events)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract=ORDER, contract_mode="freeze")

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 3, result.stderr
    assert "frozen on 'columns'" in result.stderr and "'coupon'" in result.stderr
    assert "contract 'orders' v1" in result.stderr
    assert "field 'coupon' is not declared by the contract (type=extra_forbidden, sent a string)" in result.stderr
    assert f"{topic}[0]@4" in result.stderr
