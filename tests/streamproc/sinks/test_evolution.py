"""A new contract version landing into the table an earlier version created (issue 13): the nullable columns a
compatible version adds are added to the table, earlier rows read null for them; a column the table cannot take
(required, so earlier rows have no value) is refused clearly and the table is left as it was. The real CLI, real
Delta tables, the registry in the lake's ``_contracts``."""

from __future__ import annotations

from pathlib import Path

import yaml
from deltalake import DeltaTable

from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import encode, order, run_cli

CONTRACTS = "tests.fixtures.coupon_orders"


def _run(tmp_path: Path, contract: str, events: list[dict], *, file: str) -> tuple[int, str]:
    data = tmp_path / file
    data.write_bytes(b"\n".join(encode(e) for e in events) + b"\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({
        "name": "coupons", "contract": f"{CONTRACTS}:{contract}", "source": {"type": "file", "path": str(data)},
        "sink": {"table_uri": str(tmp_path / "lake" / "orders")}, "observability": {"enabled": False},
    }))
    result = run_cli("run", str(config))
    return result.returncode, result.stderr


def test_a_compatible_version_adds_its_nullable_columns_and_a_required_one_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "lake" / "orders"
    assert _run(tmp_path, "CouponOrderV1", [order(i) for i in range(10)], file="v1.ndjson")[0] == 0

    code, stderr = _run(tmp_path, "CouponOrderV2", [order(i, coupon=f"c{i}" if i % 2 else None)
                                                    for i in range(10, 16)], file="v2.ndjson")

    assert code == 0, stderr
    assert "coupon" in stderr and "added" in stderr  # the log says what happened to the table
    assert DeltaTable(str(table)).schema().to_arrow().field("coupon").nullable
    rows = {r["order_id"]: r for r in read_table(str(table)).to_pylist()}
    assert sorted(rows) == list(range(16))
    assert {rows[i]["coupon"] for i in range(10)} == {None}  # landed before v2: null
    assert [rows[i]["coupon"] for i in range(10, 16)] == [None, "c11", None, "c13", None, "c15"]
    assert [rows[i]["_contract_version"] for i in (0, 15)] == [1, 2]

    version = DeltaTable(str(table)).version()
    code, stderr = _run(tmp_path, "CouponOrderV3", [order(20, gift=True)], file="v3.ndjson")

    assert code == 1, stderr
    assert "gift" in stderr and "required" in stderr, stderr
    assert DeltaTable(str(table)).version() == version
    assert "gift" not in DeltaTable(str(table)).schema().to_arrow().names


NESTED = """
from pydantic import BaseModel
from contracts import Contract

class Address(BaseModel):
    city: str

class Order(Contract, name="nested_orders", version=1):
    order_id: int
    address: Address | None = None
{v2}"""

NESTED_V2 = """
class Address2(BaseModel):
    city: str
    floor: int | None = None

class OrderV2(Contract, name="nested_orders", version=2):
    order_id: int
    address: Address2 | None = None
"""


def test_a_compatible_version_adds_a_nested_models_optional_field_to_its_struct(tmp_path: Path) -> None:
    # v2 adds an optional field inside a nested model: the registry accepts it (BACKWARD), so the table must take it
    # as it takes a new top-level nullable column, not refuse the table ("address is struct<city>, the contract
    # says struct<city, floor>", exit 1)
    project = tmp_path / "project"
    project.mkdir()
    data, table = project / "events.ndjson", project / "lake" / "orders"
    config = project / "pipeline.yaml"

    def run(contract: str, lines: list[str], v2: str) -> tuple[int, str]:
        (project / "nested_orders.py").write_text(NESTED.format(v2=v2))
        data.write_text("".join(line + "\n" for line in lines))
        config.write_text(yaml.safe_dump({
            "name": "nested", "contract": f"nested_orders:{contract}", "source": {"type": "file", "path": str(data)},
            "sink": {"table_uri": str(table)}, "observability": {"enabled": False},
        }))
        result = run_cli("run", str(config))
        return result.returncode, result.stdout + result.stderr

    v1_events = ['{"order_id": 1, "address": {"city": "A"}}', '{"order_id": 2}']
    code, output = run("Order", v1_events, v2="")
    assert code == 0, output

    code, output = run("OrderV2", [*v1_events, '{"order_id": 3, "address": {"city": "B", "floor": 4}}'], v2=NESTED_V2)

    assert code == 0, output
    assert "floor" in output and "added by schema merge" in output
    rows = {r["order_id"]: r["address"] for r in read_table(str(table), columns=["order_id", "address"]).to_pylist()}
    assert rows == {1: {"city": "A", "floor": None}, 2: None, 3: {"city": "B", "floor": 4}}
