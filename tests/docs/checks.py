"""What running a non-Python fence means: a config is loaded, a JSON example is checked against its schema, shell
lines run, a command synopsis is checked against the CLI.

Each check raises ``AssertionError`` (or the project's own error) naming what in the fence is wrong.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest

from streamproc.config.variables import parse_yaml
from tests.docs.fences import REPO, Fence

__all__ = ["check_config", "check_json", "run_shell", "check_synopsis"]

SNIPPET_CONTRACTS = Path(__file__).resolve().parent / "snippet_contracts"
# Contract modules the examples name (``module:Class``), copied beside the config file as a user would have them.
CONTRACT_MODULES = (
    REPO / "examples" / "flights" / "flights_contract.py",
    REPO / "tests" / "fixtures" / "shop_events.py",
    *sorted(SNIPPET_CONTRACTS.glob("*.py")),
)
# A fragment of a pipeline config (``observability:``, ``maintenance:``...) is loaded into this pipeline.
BASE_PIPELINE: dict[str, Any] = {
    "name": "docs",
    "contract": "flights_contract:Flight",
    "source": {"type": "file", "path": "events.ndjson"},
    "sink": {"table_uri": "lake/flights"},
}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_config(fence: Fence, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load a YAML/TOML fence: an OpenLineage client config (``title="openlineage.yml"``) with openlineage-python,
    anything else as (part of) a pipeline config with :func:`streamproc.config.load_config`, then import every
    contract it names."""
    # YAML as load_config parses it: a ${VAR} may stand unquoted in flow style
    raw = tomllib.loads(fence.source) if fence.language == "toml" else parse_yaml(fence.source, fence.path)
    assert isinstance(raw, dict), "a config example must be a mapping"
    for name in _VARIABLE.findall(fence.source):  # deployment values (secrets, endpoints) the example leaves to $VARs
        monkeypatch.setenv(name, os.environ.get(name, f"docs-{name.lower()}"))
    if fence.options.get("title") == "openlineage.yml":
        _check_openlineage(raw)
        return
    from contracts import load_contract
    from streamproc.config import load_config

    for module in CONTRACT_MODULES:
        shutil.copy(module, folder / module.name)
    monkeypatch.syspath_prepend(str(folder))
    suffix = ".toml" if fence.language == "toml" else ".yaml"
    path = folder / f"pipeline{suffix}"
    merged = {**BASE_PIPELINE, **raw}  # a fragment replaces whole top-level sections of the base
    path.write_text(json.dumps(merged) if suffix == ".yaml" else fence.source, encoding="utf-8")
    config = load_config(path)
    load_contract(config.contract)
    for route in config.routing.routes.values() if config.routing else ():
        load_contract(route.contract)
    for route in getattr(config.source, "routes", {}).values():
        load_contract(route if isinstance(route, str) else route.contract)


def _check_openlineage(raw: dict[str, Any]) -> None:
    from openlineage.client import OpenLineageClient

    client = OpenLineageClient(config=raw)
    transport = raw["transport"]
    assert type(client.transport).__name__.lower().startswith(transport["type"]), client.transport
    if "url" in transport:
        assert client.transport.url == transport["url"]


def check_json(fence: Fence) -> None:
    """Parse a JSON fence; one titled after a facet (``title="streamproc_load"``) must match that facet's schema."""
    document = json.loads(fence.source)
    title = fence.options.get("title")
    if title is None:
        return
    import jsonschema

    schemas = {"streamproc_load": "StreamprocLoadRunFacet.json", "streamproc_loads": "StreamprocLoadsRunFacet.json"}
    assert title in schemas, f"no schema known for title={title!r}"
    schema_path = REPO / "streamproc" / "observe" / "openlineage" / "schemas" / schemas[title]
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    facet = schema["$defs"][schemas[title].removesuffix(".json")]
    # the facet's own part; the OpenLineage RunFacet it extends is a remote $ref (its _producer/_schemaURL)
    own = [part for part in facet["allOf"] if not part.get("$ref", "").startswith("http")]
    jsonschema.validate(document, {"allOf": own, "$defs": schema["$defs"]})


def run_shell(fence: Fence, folder: Path, *, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a shell fence with bash (``-e -o pipefail``) in ``folder``, where ``.venv``, ``deploy`` and ``examples``
    point into the repository and the virtualenv's ``bin`` comes first on ``PATH`` (``streamproc``, ``python``)."""
    venv = Path(sys.prefix)
    for name, target in ((".venv", venv), ("deploy", REPO / "deploy"), ("examples", REPO / "examples")):
        link = folder / name
        if not link.exists():
            link.symlink_to(target, target_is_directory=True)
    run_env = {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "PYTHONPATH": str(REPO)}
    try:
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", fence.source],
            cwd=folder,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        _stop_brokers(folder)
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _stop_brokers(folder: Path) -> None:
    """A block that starts a broker and fails before its ``stop`` line must not leave the JVM running."""
    script = REPO / "deploy" / "kafka" / "broker.py"
    for directory, _, files in os.walk(folder):  # not into the symlinked .venv, deploy, examples
        if "broker.pid" in files:
            subprocess.run([sys.executable, str(script), "stop", "--data-dir", directory], timeout=60)


def check_synopsis(fence: Fence) -> None:
    """Every ``streamproc COMMAND ...`` line of a synopsis names a real command, and every ``--option`` on it is an
    option of that command or of one of its subcommands."""
    from streamproc.cli import cli

    lines = [line.strip() for line in fence.source.splitlines() if line.strip().startswith("streamproc ")]
    for line in lines:
        words = line.split()
        command = words[1]
        if command.startswith("-"):
            continue  # ``streamproc --help``
        with click.Context(cli) as ctx:
            found = cli.get_command(ctx, command)
            assert found is not None, f"{line!r}: streamproc has no command {command!r}"
            known = _options(found, ctx)
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line):
            assert option in known, f"{line!r}: {option} is not an option of 'streamproc {command}' or its commands"


def _options(command: click.Command, ctx: click.Context) -> set[str]:
    if callable(getattr(command, "load", None)):  # streamproc's LazyGroup: the real group is imported on first use
        command = command.load()
    names = {"--help"}
    for param in command.params:
        names.update(opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--"))
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                names |= _options(sub, ctx)
    return names
