"""``streamproc contracts list | show | diff | check``, as a user runs them (the real CLI, real Delta tables)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from contracts.registry import ContractRegistry
from streamproc.sinks.contracts_table import DeltaContractStore
from tests.fixtures.pipelines import run_cli

V1 = """
from typing import Annotated, Literal
from contracts import Contract, Mode, Tag

class Signup(Contract, name="signups", version=1, owner="growth", compatibility="FULL"):
    user_id: int
    email: Annotated[str, Tag("email")]
    plan: Literal["free", "pro"]
    referrer: Annotated[str | None, Mode("discard_value")] = None
"""

V2_BREAKING = """
from typing import Literal
from contracts import Contract

class SignupV2(Contract, name="signups", version=2, compatibility="FULL"):
    user_id: str
    email: str
    plan: Literal["free", "pro", "team"]
    referrer: str | None = None
"""


def _project(tmp_path: Path, *modules: str) -> Path:
    for i, source in enumerate(modules, start=1):
        (tmp_path / f"signups_v{i}.py").write_text(source)
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)  # an edit of the same size must not run stale bytecode
    config = {
        "name": "signups",
        "contract": "signups_v1:Signup",
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/signups"},
        "contracts": {"packages": [f"signups_v{i}" for i in range(1, len(modules) + 1)]},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_check_passes_then_fails_with_each_incompatible_field(tmp_path: Path) -> None:
    config = _project(tmp_path, V1)
    ok = run_cli("contracts", "--config", str(config), "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   signups v1: FULL with nothing earlier" in ok.stdout

    config = _project(tmp_path, V1, V2_BREAKING)
    failed = run_cli("contracts", "--config", str(config), "check")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL signups v2: not FULL compatible" in failed.stdout
    assert "field 'user_id': type changed from integer to string (breaks BACKWARD" in failed.stdout
    assert "field 'user_id': type changed from integer to string (breaks FORWARD" in failed.stdout
    assert "field 'plan': enum changed" in failed.stdout and "breaks FORWARD" in failed.stdout


def test_every_command_without_a_place_to_read_contracts_from_is_a_usage_error() -> None:
    # `contracts check` in CI without --config checked nothing and passed; `list` printed an empty table.
    for command in (["check"], ["list"], ["show", "signups"], ["diff", "signups", "1", "2"]):
        result = run_cli("contracts", *command)

        assert result.returncode == 2, (command, result.stdout)
        assert "no contracts to read: name where they are with --config FILE" in result.stderr
        assert result.stdout == ""


def test_list_show_and_diff_read_code_and_the_lakes_history(tmp_path: Path) -> None:
    config = _project(tmp_path, V1, V2_BREAKING.replace('compatibility="FULL"', 'compatibility="NONE"'))
    # register v1 and v2 in the lake's _contracts, as a run would
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        registry = ContractRegistry.discover(
            modules=["signups_v1", "signups_v2"], entry_points=False,
            store=DeltaContractStore(str(tmp_path / "lake" / "_contracts")),
        )
        registry.register_declared("signups")
    finally:
        sys.path.remove(str(tmp_path))

    listed = run_cli("contracts", "--config", str(config), "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["origin"], r["verdict"]) for r in rows] == [
        (1, "declared", "not_checked"), (2, "declared", "not_checked")
    ]
    assert all(r["registered_at"] for r in rows)

    shown = run_cli("contracts", "--config", str(config), "show", "signups", "--version", "1", "--json")
    fields = {f["path"]: f for f in json.loads(shown.stdout)["fields"]}
    assert fields["email"]["tags"] == ["email"]
    assert fields["referrer"]["modes"] == {"columns": "discard_value", "data_type": "discard_value"}
    assert fields["plan"]["enum"] == ['"free"', '"pro"'] and fields["user_id"]["type"] == "integer"
    table = run_cli("contracts", "--config", str(config), "show", "signups")
    assert "signups v2 (declared)" in table.stdout and "user_id" in table.stdout

    diffed = run_cli("contracts", "--config", str(config), "diff", "signups", "1", "2", "--json")
    changes = {c["path"]: c for c in json.loads(diffed.stdout)}
    assert changes["user_id"]["kind"] == "type_changed" and changes["user_id"]["breaking"] is True
    assert changes["plan"]["kind"] == "enum_changed" and changes["plan"]["breaking"] is False

    # the history alone answers too: no code, just the table
    history = run_cli("contracts", "--registry", str(tmp_path / "lake" / "_contracts"), "show", "signups")
    assert history.returncode == 0 and "signups v2" in history.stdout

    missing = run_cli("contracts", "--config", str(config), "show", "nope")
    assert missing.returncode == 2 and "no contract named 'nope'" in missing.stderr


VERSIONS = """
from contracts import Contract

class Signup(Contract, name="signups", version=1):
    user_id: int

class SignupV2(Contract, name="signups", version=2):  # adds an optional field: BACKWARD compatible
    user_id: int
    plan: str | None = None

class SignupV3(Contract, name="signups", version=3):  # retypes a field: not BACKWARD compatible
    user_id: str
    plan: str | None = None

class SignupV4(Contract, name="signups", version=4, compatibility="NONE"):
    account: str
"""


def test_list_shows_each_versions_real_verdict_and_what_it_was_checked_against(tmp_path: Path) -> None:
    config = _project(tmp_path, VERSIONS)
    listed = run_cli("contracts", "--config", str(config), "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["version"]: r for r in json.loads(listed.stdout)}
    assert {v: (r["verdict"], r["checked_against"]) for v, r in rows.items()} == {
        1: ("not_checked", []),
        2: ("compatible", [1]),
        3: ("incompatible", [2]),
        4: ("not_checked", []),
    }
    assert rows[3]["reasons"] == [
        "v3 vs v2: field 'user_id': type changed from integer to string "
        "(breaks BACKWARD: events valid under v2 are rejected by v3)"
    ]
    assert not any(r["registered_at"] for r in rows.values())  # nothing registered: judged from the code

    table = run_cli("contracts", "--config", str(config), "list")
    assert table.returncode == 0, table.stderr
    assert "incompatible" in table.stdout and "checked against" in table.stdout
    assert "not_checked: level NONE, or nothing earlier in its compatibility group" in table.stdout
    shown = run_cli("contracts", "--config", str(config), "show", "signups", "--version", "3")
    assert "verdict: incompatible (checked against v2)" in shown.stdout


def test_list_shows_a_registered_version_the_code_changed(tmp_path: Path) -> None:
    _project(tmp_path, V1)
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        registry = ContractRegistry.discover(
            modules=["signups_v1"], entry_points=False, store=DeltaContractStore(str(tmp_path / "lake" / "_contracts"))
        )
        registry.register_declared("signups")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("signups_v1", None)

    config = _project(tmp_path, V1.replace("user_id: int", "user_id: str"))
    listed = run_cli("contracts", "--config", str(config), "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert (row["version"], row["verdict"], bool(row["registered_at"])) == (1, "changed", True)
    assert row["reasons"] == ["field 'user_id': type changed from integer to string"]


CAMEL = """
from typing import Annotated
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from contracts import Contract, Mode, Tag

class Contact(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)
    phone_number: Annotated[str, Tag("phone")]

class Signup(Contract, name="signups", version=1):
    model_config = ConfigDict(alias_generator=to_camel)
    user_id: int
    customer_email: Annotated[str, Tag("email")]
    contacts: list[Contact] = []
    nick_name: Annotated[str | None, Mode("discard_value")] = None
"""


def test_show_finds_the_tags_and_modes_of_aliased_and_list_item_fields(tmp_path: Path) -> None:
    # The JSON Schema names fields as events spell them (customerEmail, contacts[].phoneNumber) while tags and mode
    # overrides are declared on attributes (customer_email, contacts.phone_number): show left both columns empty.
    config = _project(tmp_path, CAMEL)

    shown = run_cli("contracts", "--config", str(config), "show", "signups", "--json")

    assert shown.returncode == 0, shown.stderr
    fields = {f["path"]: f for f in json.loads(shown.stdout)["fields"]}
    assert fields["customerEmail"]["tags"] == ["email"]
    assert fields["contacts[].phoneNumber"]["tags"] == ["phone"]
    assert fields["nickName"]["modes"] == {"columns": "discard_value", "data_type": "discard_value"}
    assert fields["userId"]["tags"] == [] and fields["userId"]["modes"] == {}


def test_a_contract_module_that_fails_as_it_is_imported_is_a_one_line_contract_error(tmp_path: Path) -> None:
    # Only ImportError was translated: a typo in the contract's module, or a field type pydantic cannot validate,
    # gave a 60-line traceback and exit 1 (a runtime error) from every command that loads contracts.
    failures = {
        "SyntaxError: invalid syntax (signups_v1.py, line 10)": V1 + "x = = 1\n",
        "PydanticSchemaGenerationError: Unable to generate pydantic-core schema for <class 'socket.socket'>": (
            V1 + "import socket\n\nclass Sock(Contract, name='socks'):\n    s: socket.socket\n"
        ),
    }
    for reason, source in failures.items():
        config = _project(tmp_path, source)
        for command in (["run", str(config)], ["contracts", "--config", str(config), "list"],
                        ["quarantine", "show", str(config)]):
            result = run_cli(*command)

            assert result.returncode == 2, (command, result.stderr)
            assert "Traceback" not in result.stderr, result.stderr
            assert "cannot import module 'signups_v1' for contract 'signups_v1:Signup': " + reason in result.stderr
        assert not (tmp_path / "lake").exists()


EVOLVING = """
from contracts import Contract

class Order(Contract, name="orders", version=1, mode="evolve"):
    order_id: int
    amount: float
"""


def test_a_version_evolve_inferred_from_variant_columns_is_backward_compatible(tmp_path: Path) -> None:
    # evolve widens 'amount' to number|string (a variant column amount__v_text): every v1 event is still valid
    (tmp_path / "orders_contract.py").write_text(EVOLVING)
    (tmp_path / "events.ndjson").write_text('{"order_id": 1, "amount": 1.5}\n{"order_id": 2, "amount": "lots"}\n')
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({
        "name": "orders",
        "contract": "orders_contract:Order",
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/orders"},
        "observability": {"port": 0},
    }))
    run = run_cli("run", str(config))
    assert run.returncode == 0, run.stdout + run.stderr

    listed = run_cli("contracts", "--config", str(config), "list", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    inferred = {v["version"]: v for v in json.loads(listed.stdout)}[2]
    assert inferred["origin"] == "inferred"
    assert (inferred["verdict"], inferred["reasons"]) == ("compatible", []), inferred

    diff = run_cli("contracts", "--config", str(config), "diff", "orders", "1", "2", "--json")
    assert diff.returncode == 0, diff.stdout + diff.stderr
    amount = next(c for c in json.loads(diff.stdout) if (c["path"], c["kind"]) == ("amount", "type_changed"))
    assert (amount["backward"], amount["forward"]) == (True, False), amount


def test_run_refusing_an_incompatible_version_says_what_to_do_next(tmp_path: Path) -> None:
    config = _project(tmp_path, V1, V2_BREAKING)
    config.write_text(
        config.read_text().replace("signups_v1:Signup", "signups_v2:SignupV2") + "observability: {port: 0}\n"
    )
    (tmp_path / "events.ndjson").write_text('{"user_id": "u1", "email": "a@b.c", "plan": "team"}\n')

    run = run_cli("run", str(config))

    assert run.returncode == 2, run.stdout + run.stderr
    assert "contract 'signups' v2 is not FULL compatible: v2 vs v1: field " in run.stderr
    assert "field 'user_id': type changed from integer to string" in run.stderr
    assert "declare the level it keeps (compatibility=...)" in run.stderr
    assert "a @migration from the version before it" in run.stderr
    assert not (tmp_path / "lake" / "signups").exists()  # refused before any table was created
