"""``streamproc quarantine replay`` after the fix is a ``@migration`` on another version (the real CLI, a file
source, real Delta tables): an event of v1 refused by v3 with ``upcast_failed`` because v2 had no migration from
v1 lands once v2 declares one, though v3, which refused it, did not change (its schema hash is the same)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import run_cli

CONTRACTS = """
from contracts import Contract, migration

class OrderV1(Contract, name="orders", version=1):
    order_id: int
    note: str | None = None

class OrderV2(Contract, name="orders", version=2):
    order_id: int
    note: str | None = None
{v2_migration}
class OrderV3(Contract, name="orders", version=3):
    order_id: int
    v: int | None = None

    @migration
    def from_v2(event: dict) -> dict:
        event.pop("note", None)
        return event
"""

V2_MIGRATION = """
    @migration
    def from_v1(event: dict) -> dict:
        return event
"""


def _project(tmp_path: Path, *, v2_migration: str) -> Path:
    (tmp_path / "shop_orders.py").write_text(CONTRACTS.format(v2_migration=v2_migration))
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)  # an edit must not run stale bytecode
    (tmp_path / "events.ndjson").write_text(
        '{"order_id": 1, "note": "old", "v": 2}\n{"order_id": 2, "note": "older", "v": 1}\n{"order_id": 3, "v": 3}\n'
    )
    config = {
        "name": "orders",
        "contract": "shop_orders:OrderV3",
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/orders"},
        "upcast": {"field": "v"},
        "observability": {"port": 0},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_migration_added_to_an_earlier_version_replays_what_failed_to_upcast(tmp_path: Path) -> None:
    config = _project(tmp_path, v2_migration="")
    run = run_cli("run", str(config))
    assert run.returncode == 0, run.stdout + run.stderr
    table, quarantine = tmp_path / "lake" / "orders", tmp_path / "lake" / "orders__quarantine"
    assert sorted(read_table(str(table), columns=["order_id"])["order_id"].to_pylist()) == [1, 3]
    refused = read_table(str(quarantine), columns=["violations"])["violations"].to_pylist()
    assert [v["type"] for row in refused for v in row] == ["upcast_failed"]

    config = _project(tmp_path, v2_migration=V2_MIGRATION)  # the fix: v2 migrates from v1; v3 is unchanged
    replay = run_cli("quarantine", "replay", str(config))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "refused by this contract version already" not in replay.stdout, replay.stdout
    assert "landed 1 row(s); 0 still fail" in replay.stdout, replay.stdout
    assert sorted(read_table(str(table), columns=["order_id"])["order_id"].to_pylist()) == [1, 2, 3]


MODED = """
from contracts import Contract

class Order(Contract, name="orders", version=1{mode}):
    order_id: int
"""


def test_a_mode_changed_on_the_same_version_replays_what_the_old_mode_refused(tmp_path: Path) -> None:
    # modes are not in the schema hash: the version that refused the row is "unchanged", yet now lands it
    def project(mode: str) -> Path:
        (tmp_path / "moded_orders.py").write_text(MODED.format(mode=mode))
        shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)
        path = tmp_path / "pipeline.yaml"
        path.write_text(yaml.safe_dump({
            "name": "orders", "contract": "moded_orders:Order", "source": {"type": "file", "path": "events.ndjson"},
            "sink": {"table_uri": "lake/orders"}, "observability": {"enabled": False},
        }))
        return path

    (tmp_path / "events.ndjson").write_text('{"order_id": 1}\n{"order_id": 2, "coupon": "X"}\n')
    run = run_cli("run", str(project("")))  # columns: discard_row (the default) quarantines order 2
    assert run.returncode == 0, run.stdout + run.stderr
    table = tmp_path / "lake" / "orders"
    assert read_table(str(table), columns=["order_id"])["order_id"].to_pylist() == [1]

    config = project(', mode={"columns": "discard_value"}')  # the fix: drop the undeclared key, land the row
    replay = run_cli("quarantine", "replay", str(config))

    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "landed 1 row(s); 0 still fail" in replay.stdout, replay.stdout
    assert sorted(read_table(str(table), columns=["order_id"])["order_id"].to_pylist()) == [1, 2]
    again = run_cli("quarantine", "replay", str(config))  # and nothing twice
    assert again.stdout.startswith("nothing to replay: orders__quarantine: every row is landed: 1 replayed"), (
        again.stdout
    )
