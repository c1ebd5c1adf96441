"""Every command that takes a CONFIG resolves its contracts the same way: a contract module beside the config file
is importable (as ``python`` makes a script's folder importable), whatever the working directory (issue 13, item 3).
Each command runs as the real CLI, from the repository root, on real Delta tables and the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async, run_cli

pytestmark = pytest.mark.kafka

BESIDE = '''
from contracts import Contract


class Beside(Contract, name="beside_orders", mode={"columns": "evolve"}):
    """An order, declared in a module beside the pipeline config (its other keys become columns)."""

    order_id: int
    amount: float
'''


def _config(tmp_path: Path, source: dict[str, object]) -> Path:
    config = {
        "name": "beside",
        "contract": "beside_contracts:Beside",
        "source": source,
        "sink": {"table_uri": "lake/orders"},
        "observability": {"enabled": False},
    }
    path = tmp_path / f"{source['type']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_command_taking_a_config_imports_the_contract_beside_it(kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "beside_contracts.py").write_text(BESIDE)
    (tmp_path / "orders.ndjson").write_bytes(b"\n".join(encode(order(i)) for i in range(30)) + b"\n")
    by_file = _config(tmp_path, {"type": "file", "path": "orders.ndjson"})
    topic = new_topic("beside")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(5)], partitions=1)
    by_kafka = _config(
        tmp_path, {"type": "kafka", "bootstrap_servers": kafka_bootstrap, "topics": [topic], "consumer_group": topic}
    )

    run = run_cli("run", str(by_file), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["rows_landed"] == 30

    backfill = run_cli("lineage", "backfill", str(by_file), "--dry-run")
    assert backfill.returncode == 0, backfill.stderr
    assert [json.loads(line)["eventType"] for line in backfill.stdout.splitlines()] == ["START", "RUNNING"]

    listed = run_cli("contracts", "--config", str(by_file), "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "beside_orders" in {row["name"] for row in json.loads(listed.stdout)}

    positions = run_cli("positions", "show", str(by_kafka), "--json")
    assert positions.returncode == 0, positions.stderr
    assert [p["partition"] for p in json.loads(positions.stdout)] == [0]
