"""A version registered in the lake never changes: ``streamproc run`` stops with exit 2 and ``streamproc contracts
check`` exits 1 when the code changed a registered version without a new number (the real CLI, file sources, real
Delta tables). A change that leaves the schema hash alone (documentation, field order) is no change."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import yaml

from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import run_cli

SIGNUP = """
from contracts import Contract

class Signup(Contract, name="signups", version={version}):
    user_id: int
    plan: str
"""


def _module(project: Path, dotted: str, source: str) -> None:
    path = project.joinpath(*dotted.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent != project:
        (path.parent / "__init__.py").touch()
    path.write_text(textwrap.dedent(source))
    # an edit of the same size within the same second would otherwise run the stale bytecode
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)


def _config(project: Path, contract: str, **sections: Any) -> Path:
    config = {
        "name": "signups",
        "contract": contract,
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/signups"},
        "observability": {"port": 0},  # any free port: a taken one stops the run
        **sections,
    }
    path = project / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _append(project: Path, *events: dict[str, Any]) -> None:
    with (project / "events.ndjson").open("a") as handle:
        handle.writelines(json.dumps(e) + "\n" for e in events)


def _registered(project: Path) -> list[tuple[str, int, str]]:
    rows = read_table(str(project / "lake" / "_contracts")).to_pylist()
    return sorted((r["name"], r["version"], r["schema_hash"]) for r in rows)


def _refused(config: Path, name: str, version: int, *changes: str) -> tuple[str, str]:
    """Run ``run`` then ``contracts check``: exits 2 and 1, each naming the contract, the version and every change.
    Returns their outputs (run's stderr, check's stdout)."""
    run = run_cli("run", str(config))
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"contract '{name}' v{version} changed since it was registered" in run.stderr
    check = run_cli("contracts", "--config", str(config), "check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"FAIL {name} v{version}: contract '{name}' v{version} changed since it was registered" in check.stdout
    for change in changes:
        assert change in run.stderr
        assert f"     - {change}" in check.stdout
    return run.stderr, check.stdout


def test_the_newest_version_changed_under_its_number_stops_run_and_fails_check(tmp_path: Path) -> None:
    _module(tmp_path, "signups", SIGNUP.format(version=1))
    config = _config(tmp_path, "signups:Signup")
    _append(tmp_path, {"user_id": 1, "plan": "free"}, {"user_id": 2, "plan": "pro"})
    first = run_cli("run", str(config))
    assert first.returncode == 0, first.stderr
    registered = _registered(tmp_path)

    _module(tmp_path, "signups", """
        from contracts import Contract

        class Signup(Contract, name="signups", version=1):
            user_id: str
            plan: str
            coupon: str | None = None
    """)
    _append(tmp_path, {"user_id": "3", "plan": "free", "coupon": "x"})
    stderr, _ = _refused(
        config, "signups", 1,
        "field 'coupon': added (string | null, optional)", "field 'user_id': type changed from integer to string",
    )
    assert "declare it as version 2" in stderr
    assert _registered(tmp_path) == registered  # nothing recorded under the old number
    assert sorted(read_table(str(tmp_path / "lake" / "signups"))["user_id"].to_pylist()) == [1, 2]


def test_an_older_version_from_contracts_packages_changed_under_its_number(tmp_path: Path) -> None:
    older = """
        from pydantic import Field
        from contracts import Contract

        class SignupV1(Contract, name="signups", version=1):
            user_id: int
            plan: str = Field(max_length={limit})
    """
    _module(tmp_path, "shop.signups_v1", older.format(limit=10))
    _module(tmp_path, "signups_v2", """
        from pydantic import Field
        from contracts import Contract

        class SignupV2(Contract, name="signups", version=2):
            user_id: int
            plan: str = Field(max_length=10)
            coupon: str | None = None
    """)
    config = _config(tmp_path, "signups_v2:SignupV2", contracts={"packages": ["shop"]})
    _append(tmp_path, {"user_id": 1, "plan": "free"})
    first = run_cli("run", str(config))
    assert first.returncode == 0, first.stderr
    assert [(n, v) for n, v, _ in _registered(tmp_path)] == [("signups", 1), ("signups", 2)]

    _module(tmp_path, "shop.signups_v1", older.format(limit=4))
    _append(tmp_path, {"user_id": 2, "plan": "pro"})
    stderr, checked = _refused(
        config, "signups", 1, "field 'plan': constraint changed from maxLength=10 to maxLength=4"
    )
    assert "declare it as version 3" in stderr
    assert "ok   signups v2: BACKWARD with v1" in checked


def test_a_routes_contract_changed_under_its_number(tmp_path: Path) -> None:
    _module(tmp_path, "signups", SIGNUP.format(version=1))
    refund = """
        from typing import Literal
        from pydantic import Field
        from contracts import Contract

        class Refund(Contract, name="refunds"):
            type: Literal["refund"]
            amount: float = Field(ge={minimum})
    """
    _module(tmp_path, "refunds", refund.format(minimum=0))
    config = _config(
        tmp_path, "signups:Signup", routing={"field": "type", "routes": {"refund": "refunds:Refund"}}
    )
    _append(tmp_path, {"user_id": 1, "plan": "free"}, {"type": "refund", "amount": 5.0})
    first = run_cli("run", str(config))
    assert first.returncode == 0, first.stderr
    assert [(n, v) for n, v, _ in _registered(tmp_path)] == [("refunds", 1), ("signups", 1)]

    _module(tmp_path, "refunds", refund.format(minimum=1))
    _, checked = _refused(config, "refunds", 1, "field 'amount': constraint changed from minimum=0 to minimum=1")
    assert "ok   signups v1" in checked


def test_documentation_and_field_order_are_not_changes(tmp_path: Path) -> None:
    _module(tmp_path, "signups", SIGNUP.format(version=1))
    config = _config(tmp_path, "signups:Signup")
    _append(tmp_path, {"user_id": 1, "plan": "free"})
    assert run_cli("run", str(config)).returncode == 0
    registered = _registered(tmp_path)

    _module(tmp_path, "signups", '''
        from pydantic import Field
        from contracts import Contract

        class Signup(Contract, name="signups", version=1):
            """Someone signed up (documented after the first run)."""

            plan: str = Field(description="the plan chosen", examples=["free"])
            user_id: int = Field(title="User", description="who signed up")
    ''')
    _append(tmp_path, {"user_id": 2, "plan": "pro"})
    again = run_cli("run", str(config), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["rows_landed"] == 1
    assert _registered(tmp_path) == registered
    hashes = set(read_table(str(tmp_path / "lake" / "_loads"))["contract_hash"].to_pylist())
    assert hashes == {registered[0][2]}  # both loads carry the registered version's hash

    check = run_cli("contracts", "--config", str(config), "check")
    assert check.returncode == 0, check.stdout + check.stderr
