"""The registry's history in the lake: the ``_contracts`` Delta table, across restarts and concurrent writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from contracts import Contract
from contracts.errors import IncompatibleContractError, RegistryConflictError
from contracts.registry import ContractRegistry, ContractVersion
from streamproc.sinks.contracts_table import DeltaContractStore
from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, run_cli, write_pipeline
from streamproc.sinks.reader import read_table

PACKAGE = "tests.fixtures.shop_contracts"


def _rows(uri: Path) -> list[dict]:
    return sorted(read_table(str(uri)).to_pylist(), key=lambda r: r["registered_at"])


def test_history_survives_restarts_and_an_unchanged_model_adds_no_row(tmp_path: Path) -> None:
    uri = tmp_path / "_contracts"
    registry = ContractRegistry.discover(packages=[PACKAGE], entry_points=False, store=DeltaContractStore(str(uri)))
    registry.register_declared("payments")
    rows = _rows(uri)
    assert [(r["name"], r["version"], r["origin"], r["verdict"]) for r in rows] == [
        ("payments", 1, "declared", "not_checked"),
        ("payments", 2, "declared", "compatible"),
    ]
    assert rows[1]["compatibility"] == "BACKWARD" and rows[1]["parent_version"] == 1
    assert json.loads(rows[0]["tags"]) == {"email": ["email"]}
    assert json.loads(rows[0]["json_schema"])["properties"]["currency"]["enum"] == ["EUR", "USD"]
    assert {c["path"] for c in json.loads(rows[1]["changes"])} == {"card_country", "currency"}

    # a restart: everything is known from the lake, nothing is written
    again = ContractRegistry.discover(packages=[PACKAGE], entry_points=False, store=DeltaContractStore(str(uri)))
    assert [v.registered for v in again.versions("payments")] == [True, True]
    again.register_declared("payments")
    assert len(_rows(uri)) == 2
    # and the history alone (no code) still answers
    history = ContractRegistry([], store=DeltaContractStore(str(uri)))
    assert history.get("payments").version == 2 and history.get("payments").contract is None


def test_a_concurrent_registration_is_detected_and_the_loser_decides_again(tmp_path: Path) -> None:
    uri = str(tmp_path / "_contracts")

    class Widget(Contract, name="widgets"):
        a: int

    first, second = DeltaContractStore(uri), DeltaContractStore(uri)
    first.load(), second.load()
    first.append(ContractVersion.of(Widget))
    with pytest.raises(RegistryConflictError):
        second.append(ContractVersion.of(Widget))
    # the registry reloads on a conflict: the version is then known, nothing more is written
    late = ContractRegistry([Widget], store=DeltaContractStore(uri))
    late.store.load()  # type: ignore[union-attr]
    late.register(Widget)
    assert len(read_table(uri)) == 1


@pytest.mark.kafka
def test_a_run_registers_its_contract_once_and_refuses_an_incompatible_version(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("registry")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(5)])
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract="tests.fixtures.contract_modes:Order")
    for _ in range(2):
        result = run_cli("run", str(files.config), "--until-caught-up")
        assert result.returncode == 0, result.stderr
    rows = _rows(files.lake / "_contracts")
    assert [(r["name"], r["version"], r["origin"]) for r in rows] == [("orders", 1, "declared")]

    # a v2 that retypes a field breaks BACKWARD: the run stops before consuming, with the field named
    (tmp_path / "orders_v2.py").write_text(
        "from contracts import Contract\n"
        "class OrderV2(Contract, name='orders', version=2):\n"
        "    order_id: str\n"
    )
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="orders_v2:OrderV2",
        contracts={"packages": ["tests.fixtures.contract_modes"]},
    )
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 2, result.stderr
    assert "not BACKWARD compatible" in result.stderr and "field 'order_id': type changed" in result.stderr
    assert len(_rows(files.lake / "_contracts")) == 1
    assert IncompatibleContractError.__name__  # the error the CLI reported (exit 2: a contract error)
