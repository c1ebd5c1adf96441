"""``streamproc quarantine replay`` with nothing to replay (an empty quarantine, filters that match no row, every
matching row landed already) says so and writes nothing: it created an empty ``<quarantine>_resolutions`` table,
registered the new contract version and reported "landed 0 row(s)". The real CLI in a subprocess, a file source, the
pipeline's own Delta tables."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from streamproc.config import load_config
from streamproc.config.resolve import resolve_contracts
from streamproc.errors import StorageUnavailableError
from streamproc.lineage.loads import LoadRecord
from streamproc.ops.quarantine.replay import QuarantineReplay
from streamproc.ops.quarantine.report import ReplaySummary
from streamproc.ops.quarantine.rows import QuarantineSnapshot
from streamproc.runtime.build import open_registry
from streamproc.sinks.reader import read_table
from tests.fixtures.exactly_once import unavailable
from tests.fixtures.pipelines import run_cli, run_module_pipeline

CONTRACTS = """
from contracts import Contract

class PaymentV1(Contract, name="idle_payments", version=1, mode="discard_row"):
    payment_id: int
    amount: int

class Payment(Contract, name="idle_payments", version=2, mode="discard_row"):
    payment_id: int
    amount: int
    note: str | None = None
"""

REFUSED = [{"payment_id": 2, "amount": 2.5}, {"payment_id": 3, "amount": 3, "note": "gift"}]
"""What v1 quarantines: a fractional amount (v2 still refuses it), an undeclared ``note`` (v2 accepts it)."""


def _lake(tmp_path: Path, events: list[dict[str, object]]) -> Path:
    """A pipeline under v1 that ran over ``events``; its module then declares v2 (what a replay judges with)."""
    config = run_module_pipeline(
        tmp_path, events, name="idle", module="idle_pay", source=CONTRACTS + "\nPayment = PaymentV1\n",
        contract="idle_pay:Payment", table="payments",
    )
    (tmp_path / "idle_pay.py").write_text(CONTRACTS)
    return config


def _lake_files(tmp_path: Path) -> set[str]:
    return {str(p.relative_to(tmp_path)) for p in (tmp_path / "lake").rglob("*")}


@pytest.mark.parametrize("dry_run", [False, True], ids=["replay", "dry run"])
@pytest.mark.parametrize(
    ("events", "filters", "why"),
    [
        ([{"payment_id": 1, "amount": 1}], (), "it holds no rows"),
        ([{"payment_id": 1, "amount": 1}, *REFUSED], ("--where", "_offset > 100"),
         "none of its 2 rows match the filters"),
        ([{"payment_id": 1, "amount": 1}, *REFUSED], ("--type", "missing"), "none of its 2 rows match the filters"),
    ],
    ids=["empty quarantine", "--where matches nothing", "--type matches nothing"],
)
def test_nothing_to_replay_writes_nothing_and_says_so(
    tmp_path: Path, events: list[dict[str, object]], filters: tuple[str, ...], why: str, dry_run: bool
) -> None:
    config = _lake(tmp_path, events)
    before = _lake_files(tmp_path)
    options = (*filters, *(["--dry-run"] if dry_run else []))

    text = run_cli("quarantine", "replay", str(config), *options)
    as_json = run_cli("quarantine", "replay", str(config), *options, "--json")

    assert (text.returncode, as_json.returncode) == (0, 0), (text.stderr, as_json.stderr)
    assert text.stdout == f"nothing to replay: payments__quarantine: {why}; nothing written\n"
    summary = json.loads(as_json.stdout)
    assert summary["run_id"] is None and summary["tables"] == [] and summary["landed"] == 0
    assert summary["nothing_to_replay"] == {"payments__quarantine": why}
    assert _lake_files(tmp_path) == before  # no resolutions table, no v2 in _contracts


def test_a_replay_whose_matching_rows_all_landed_has_nothing_to_replay(tmp_path: Path) -> None:
    config = _lake(tmp_path, REFUSED)
    first = run_cli("quarantine", "replay", str(config), "--where", "_offset = 1", "--json")  # the note
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["landed"] == 1
    before = _lake_files(tmp_path)

    again = run_cli("quarantine", "replay", str(config), "--where", "_offset = 1")

    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        "nothing to replay: payments__quarantine: every matching row is landed: 1 replayed already; nothing written\n"
    )
    assert _lake_files(tmp_path) == before


class _TableGoneAfterFirstLoad:
    """A replay listener that makes the table unavailable once the first replay load is committed: the next load's
    resolutions are committed, its rows are not (as a crash between its commits would leave it)."""

    def __init__(self, table: Path, stack: ExitStack) -> None:
        self.table, self.stack, self.failing = table, stack, False

    def on_load(self, load: LoadRecord, quarantine: QuarantineSnapshot) -> None:
        if not self.failing:
            self.failing = True
            self.stack.enter_context(unavailable(self.table))

    def on_start(self, run_id: str, quarantines: list[Any]) -> None: ...

    def on_scan(self, quarantine: QuarantineSnapshot) -> None: ...

    def on_scanned(self, rows: int) -> None: ...

    def on_stop(self, summary: ReplaySummary | None, error: BaseException | None) -> None: ...


def test_an_interrupted_load_is_completed_though_every_row_has_its_resolution(tmp_path: Path) -> None:
    config = _lake(tmp_path, [{"payment_id": 3, "amount": 3, "note": "gift"}, {"payment_id": 4, "amount": 4,
                                                                                "note": "card"}])
    pipeline = load_config(config)
    contracts = resolve_contracts(pipeline)
    table = tmp_path / "lake" / "payments"
    with ExitStack() as stack, pytest.raises(StorageUnavailableError):
        QuarantineReplay(pipeline, contracts, open_registry(pipeline, contracts, register=False), batch_size=1,
                         listeners=[_TableGoneAfterFirstLoad(table, stack)]).run()
    assert read_table(str(table), columns=["payment_id"])["payment_id"].to_pylist() == [3]

    again = run_cli("quarantine", "replay", str(config), "--json")

    assert again.returncode == 0, again.stderr
    (report,) = json.loads(again.stdout)["tables"]
    assert [load["rows_landed"] for load in report["completed_interrupted_loads"]] == [1]
    assert sorted(read_table(str(table), columns=["payment_id"])["payment_id"].to_pylist()) == [3, 4]
