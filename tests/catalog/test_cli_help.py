"""Each catalog command's ``--help`` says what it does and shows it used, as the other ``streamproc`` commands do;
its failures say ``error:`` as theirs do."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.cli import catalog
from tests.fixtures.pipelines import run_cli

COMMANDS = ["serve", "lineage", "column-lineage", "schema-history", "pii", "loads", "search"]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_shows_an_example(command: str) -> None:
    result = CliRunner().invoke(catalog, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"streamproc catalog {command}" in result.output


def test_a_failure_says_error_as_every_streamproc_command_does(tmp_path: Path) -> None:
    result = run_cli("catalog", "--database-url", f"sqlite:///{tmp_path / 'none.db'}", "pii")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: no catalog database at {tmp_path / 'none.db'}"), result.stderr


def test_serve_on_a_taken_port_says_so_and_exits_1(tmp_path: Path) -> None:
    # uvicorn logged "ERROR: [Errno 98] ..." and exited 3, the status streamproc gives a freeze contract's stop
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("catalog", "--database-url", f"sqlite:///{tmp_path / 'catalog.db'}", "serve", "--no-auth",
                         "--port", str(port), timeout=60)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use"), result.stderr


def test_a_bad_setting_is_named_as_its_variable_and_a_secret_is_not_echoed() -> None:
    # pydantic's whole report: "1 validation error for CatalogSettings\nport\n  Input should be ... visit https://..."
    port = CliRunner().invoke(catalog, ["pii"], env={"CATALOG_PORT": "abc"})
    assert port.exit_code == 1
    assert port.output == (
        "error: invalid settings: CATALOG_PORT: Input should be a valid integer, unable to parse string as an integer "
        "(got 'abc')\n"
    )
    options = CliRunner().invoke(catalog, ["pii"], env={"CATALOG_LAKE_STORAGE_OPTIONS": '{"aws_secret_access_key": 5}'})
    assert options.exit_code == 1
    assert "CATALOG_LAKE_STORAGE_OPTIONS[aws_secret_access_key]: Input should be a valid string" in options.output
    assert "5" not in options.output.replace("CATALOG_", "")
