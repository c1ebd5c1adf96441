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
