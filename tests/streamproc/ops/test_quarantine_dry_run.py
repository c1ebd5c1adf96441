"""``streamproc quarantine replay --dry-run`` refuses what the replay itself refuses: a dry run that promised rows
which the replay then stopped at (exit 1 or 2, nothing landed) would be worse than none. The real CLI in a
subprocess, a file source, the pipeline's own Delta tables."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.pipelines import run_cli, run_module_pipeline

V1 = """
from contracts import Contract

class PaymentV1(Contract, name="dry_payments", version=1, mode="discard_row"):
    payment_id: int
    amount: int
"""


def _quarantined(tmp_path: Path) -> Path:
    """A lake whose quarantine holds the events v1 refused: a fractional amount, an undeclared ``note``."""
    events = [{"payment_id": 1, "amount": 1}, {"payment_id": 2, "amount": 2.5}, {"payment_id": 3, "amount": 3,
                                                                                   "note": "gift"}]
    return run_module_pipeline(
        tmp_path, events, name="dry", module="dry_pay", source=V1 + "\nPayment = PaymentV1\n",
        contract="dry_pay:Payment", table="payments",
    )


def _declare_v2(tmp_path: Path, body: str) -> None:
    (tmp_path / "dry_pay.py").write_text(
        V1 + '\nclass Payment(Contract, name="dry_payments", version=2, mode="discard_row"):\n' + body
    )


def _table_versions(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "lake" / "payments" / "_delta_log").glob("*.json"))


def test_a_dry_run_refuses_a_version_whose_type_the_table_cannot_take_as_the_replay_does(tmp_path: Path) -> None:
    # int -> float passes the registry (BACKWARD) but not the table's int64 column: the dry run said "would land 1"
    config = _quarantined(tmp_path)
    _declare_v2(tmp_path, "    payment_id: int\n    amount: float\n")
    before = _table_versions(tmp_path)

    dry = run_cli("quarantine", "replay", str(config), "--dry-run")
    real = run_cli("quarantine", "replay", str(config))

    assert (dry.returncode, real.returncode) == (1, 1), (dry.stdout, real.stdout)
    assert "does not match the contract (amount is int64, the contract says double)" in dry.stderr
    assert dry.stderr == real.stderr
    assert _table_versions(tmp_path) == before


def test_a_dry_run_refuses_an_incompatible_version_as_the_replay_does(tmp_path: Path) -> None:
    # the dry run said "would land 0 row(s); 2 would still fail" and exited 0; the replay exits 2
    config = _quarantined(tmp_path)
    _declare_v2(tmp_path, "    payment_id: int\n    amount: int\n    region: str\n")

    dry = run_cli("quarantine", "replay", str(config), "--dry-run")
    real = run_cli("quarantine", "replay", str(config))

    assert (dry.returncode, real.returncode) == (2, 2), (dry.stdout, real.stdout)
    assert "'dry_payments' v2 is not BACKWARD compatible" in dry.stderr and dry.stderr == real.stderr


def test_a_dry_run_of_a_new_optional_field_says_what_the_replay_then_lands(tmp_path: Path) -> None:
    config = _quarantined(tmp_path)
    _declare_v2(tmp_path, "    payment_id: int\n    amount: int\n    note: str | None = None\n")

    dry = run_cli("quarantine", "replay", str(config), "--dry-run", "--json")
    real = run_cli("quarantine", "replay", str(config), "--json")

    assert (dry.returncode, real.returncode) == (0, 0), (dry.stderr, real.stderr)
    would, did = json.loads(dry.stdout), json.loads(real.stdout)
    assert (would["landed"], would["still_failing"]) == (did["landed"], did["still_failing"]) == (1, 1)


ROUTED_V1 = """
from contracts import Contract

class Event(Contract, name="dry_events", version=1, mode="discard_row"):
    type: str

class Click(Contract, name="dry_clicks", version=1, mode="discard_row"):
    type: str
    x: int

class View(Contract, name="dry_views", version=1, mode="discard_row"):
    type: str
    page: str
"""

ROUTED_V2 = """
class ClickV2(Contract, name="dry_clicks", version=2, mode="discard_row"):
    type: str
    x: int
    note: str | None = None

class ViewV2(Contract, name="dry_views", version=2, mode="discard_row"):
    type: str
    page: str
    referrer: str  # required: not BACKWARD compatible with v1
"""


def _routed(tmp_path: Path) -> Path:
    """A routed pipeline (clicks and views, each its own table) whose quarantines hold an event each; then v2 of
    both: the clicks' compatible, the views' not."""
    events = [{"type": "click", "x": 1}, {"type": "click", "x": 2, "note": "gift"}, {"type": "view", "page": "a"},
              {"type": "view", "page": 3}]
    config = run_module_pipeline(
        tmp_path, events, name="dry-routes", module="dry_shop", source=ROUTED_V1, contract="dry_shop:Event",
        table="events", routing={"field": "type", "routes": {"click": "dry_shop:Click", "view": "dry_shop:View"}},
    )
    (tmp_path / "dry_shop.py").write_text(ROUTED_V1 + ROUTED_V2 + "\nClick, View = ClickV2, ViewV2\n")
    return config


def test_with_table_a_dry_run_checks_the_contracts_the_replay_checks(tmp_path: Path) -> None:
    # The dry run checked only the selected route's contract, the replay every route's: `--table dry_clicks` would
    # land 1 in the dry run, and the replay stopped at the views' v2 (exit 2), for a table it does not land into.
    config = _routed(tmp_path)

    views_dry = run_cli("quarantine", "replay", str(config), "--table", "dry_views", "--dry-run")
    clicks_dry = run_cli("quarantine", "replay", str(config), "--table", "dry_clicks", "--dry-run", "--json")
    clicks = run_cli("quarantine", "replay", str(config), "--table", "dry_clicks", "--json")
    views = run_cli("quarantine", "replay", str(config), "--table", "dry_views")

    assert (clicks_dry.returncode, clicks.returncode) == (0, 0), (clicks_dry.stderr, clicks.stderr)
    would, did = json.loads(clicks_dry.stdout), json.loads(clicks.stdout)
    assert (would["landed"], would["still_failing"]) == (did["landed"], did["still_failing"]) == (1, 0)
    assert (views_dry.returncode, views.returncode) == (2, 2), (views_dry.stdout, views.stdout)
    assert "'dry_views' v2 is not BACKWARD compatible" in views.stderr and views_dry.stderr == views.stderr
