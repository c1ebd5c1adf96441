"""``streamproc contracts``: list, show, diff and check the contracts of a project (click).

Where contracts come from: ``--config`` (a pipeline config: its contract's module, its ``contracts.packages``, its
lake's ``_contracts`` history), ``--package`` (repeatable), ``--entry-points``, and ``--registry`` (a ``_contracts``
table to read history from). ``check`` exits 1 when a version is incompatible with its level or changed under a
registered number, printing one reason per field: made for CI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from contracts import ContractError
from contracts.diff import diff_schemas, field_shapes
from contracts.errors import ContractConflictError
from contracts.registry import ContractRegistry, ContractVersion
from streamproc.config import load_config
from streamproc.config.resolve import resolve_contracts
from streamproc.errors import ConfigError, StreamprocError

__all__ = ["contracts_group"]

EXIT_INCOMPATIBLE = 1
EXIT_USAGE = 2
VERDICTS = """verdicts:
  compatible, incompatible: judged now, at its level, against the versions under 'checked against'
  not_checked: level NONE, or nothing earlier in its compatibility group (a first version, or the first after
    a migration)
  changed: the code changed this registered version ('contracts check' fails, 'run' refuses it)"""


@dataclass(frozen=True, slots=True)
class _Sources:
    config: Path | None
    packages: tuple[str, ...]
    entry_points: bool
    registry_uri: str | None


@click.group("contracts")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="A pipeline config.")
@click.option("--package", "packages", multiple=True, help="A package or module with contracts (repeatable).")
@click.option("--entry-points/--no-entry-points", default=False, help="Also load 'streamproc.contracts' entry points.")
@click.option("--registry", "registry_uri", help="A _contracts Delta table to read history from.")
@click.pass_context
def contracts_group(
    ctx: click.Context, config_file: Path | None, packages: tuple[str, ...], entry_points: bool, registry_uri: str | None
) -> None:
    """List, show, diff and check data contracts and their versions (declared in code, or in the lake's history).

    Name where the contracts are with the options before the subcommand: a pipeline's (--config, its contracts and
    its lake's _contracts table), packages (--package), installed entry points, or a _contracts table (--registry).

    \b
    Examples:
      streamproc contracts --config pipeline.yaml list
      streamproc contracts --package my_contracts show orders --version 2
      streamproc contracts --config pipeline.yaml diff orders 1 2
      streamproc contracts --package my_contracts check        in CI: exit 1 on an incompatible version
    """
    ctx.obj = _Sources(config_file, packages, entry_points, registry_uri)


@contracts_group.command(
    "list", help="Every contract with its versions: origin, hash, registration, compatibility verdict.\n\n\b\n"
    + VERDICTS,
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_contracts(sources: _Sources, as_json: bool) -> None:
    """Every contract with its versions and their verdicts, judged now."""
    registry = _registry(sources)
    rows = [_summary(v, registry) for name in registry.names() for v in registry.versions(name)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("name", "version", "origin", "hash", "registered", "level", "verdict", "checked against", "owner")
    for row in rows:
        table.add_row(
            row["name"], str(row["version"]), row["origin"], row["schema_hash"][7:19], row["registered_at"] or "no",
            row["compatibility"], row["verdict"], _against(row["checked_against"]), row["owner"] or "",
        )
    _print(table)
    click.echo(VERDICTS)


@contracts_group.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, help="The version number to show (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(sources: _Sources, name: str, version: int | None, as_json: bool) -> None:
    """One version's fields (types, nullability, tags, modes) and its metadata."""
    registry = _registry(sources)
    found = _get(registry, name, version)
    fields = _fields(found)
    summary = _summary(found, registry)
    if as_json:
        click.echo(json.dumps({**summary, "fields": fields}, indent=2, default=str))
        return
    verdict = summary["verdict"]
    if verdict != "changed":
        verdict += f" (checked against {_against(summary['checked_against'])})"
    lines = [
        f"{found.name} v{found.version} ({found.origin}) {found.schema_hash}",
        f"owner: {found.owner or '-'}   compatibility: {found.compatibility}   verdict: {verdict}",
        *(f"  - {reason}" for reason in summary["reasons"]),
        f"modes: {', '.join(f'{k}={v}' for k, v in found.modes.items()) or '-'}",
        found.description or "",
    ]
    click.echo("\n".join(lines).rstrip())
    table = Table("field", "type", "nullable", "required", "values / constraints", "tags", "mode override")
    for row in fields:
        limits = [f"{k}={v}" for k, v in row["constraints"].items()]
        if row["enum"] is not None:
            limits.insert(0, "{" + ", ".join(row["enum"]) + "}")
        table.add_row(
            row["path"], row["type"], _yes(row["nullable"]), _yes(row["required"]), " ".join(limits),
            ", ".join(row["tags"]), ", ".join(f"{k}={v}" for k, v in row["modes"].items()),
        )
    _print(table)


@contracts_group.command("diff")
@click.argument("name")
@click.argument("old", type=int)
@click.argument("new", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def diff(sources: _Sources, name: str, old: int, new: int, as_json: bool) -> None:
    """Field changes from version OLD to NEW: added / removed / type-changed…, breaking or not."""
    registry = _registry(sources)
    a, b = _get(registry, name, old), _get(registry, name, new)
    changes = diff_schemas(a.json_schema, b.json_schema, old_open=a.open, new_open=b.open)
    if as_json:
        click.echo(json.dumps([{**c.as_dict(), "breaking": c.breaking} for c in changes], indent=2))
        return
    if not changes:
        click.echo(f"{name} v{old} and v{new} have the same fields")
        return
    table = Table("field", "change", f"v{old}", f"v{new}", "breaking", "backward", "forward")
    for c in changes:
        table.add_row(
            c.path, c.kind, c.old or "", c.new or "", _yes(c.breaking), _yes(c.backward), _yes(c.forward)
        )
    _print(table)


@contracts_group.command("check")
@click.pass_obj
def check(sources: _Sources) -> None:
    """Check every declared version against the earlier ones at its compatibility level (exit 1 on a problem)."""
    registry = _registry(sources)
    problems = 0
    for name in registry.names():
        for version in registry.declared(name):
            try:
                verdict = registry.check(version.contract)  # type: ignore[arg-type]
            except ContractConflictError as exc:
                problems += 1
                click.echo(f"FAIL {name} v{version.version}: {exc.summary}")
                for reason in exc.reasons:
                    click.echo(f"     - {reason}")
                continue
            if verdict.compatible:
                against = ", ".join(f"v{v}" for v in verdict.checked_against) or "nothing earlier"
                click.echo(f"ok   {name} v{version.version}: {verdict.level} with {against}")
            else:
                problems += 1
                click.echo(f"FAIL {name} v{version.version}: not {verdict.level} compatible")
                for reason in verdict.reasons:
                    click.echo(f"     - {reason}")
    if problems:
        raise SystemExit(EXIT_INCOMPATIBLE)


def _registry(sources: _Sources) -> ContractRegistry:
    """The contracts ``sources`` name, with the lake's history. Exits 2 when they name none: ``check`` would pass
    in CI with nothing checked, and ``list`` print an empty table without saying why."""
    from streamproc.sinks.contracts_table import DeltaContractStore

    if sources == _Sources(None, (), False, None):
        click.echo(
            "error: no contracts to read: name where they are with --config FILE, --package P, --entry-points or "
            "--registry URI, before the command (streamproc contracts --config pipeline.yaml list)",
            err=True,
        )
        raise SystemExit(EXIT_USAGE)
    packages = list(sources.packages)
    modules: list[str] = []
    registry_uri = sources.registry_uri
    storage_options: dict[str, str] = {}
    try:
        if sources.config is not None:
            config = load_config(sources.config)
            modules += dict.fromkeys(c.__module__ for c in resolve_contracts(config).classes)
            packages.extend(config.contracts.packages)
            registry_uri = registry_uri or config.sink.resolved_contracts_uri
            storage_options = dict(config.sink.storage_options)
        if "" not in sys.path:
            sys.path.insert(0, "")  # like python -m: the project in the working directory is importable
        store = DeltaContractStore(registry_uri, storage_options=storage_options) if registry_uri else None
        return ContractRegistry.discover(
            packages=packages, modules=modules, entry_points=sources.entry_points, store=store
        )
    except (ConfigError, ContractError, StreamprocError) as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None


def _get(registry: ContractRegistry, name: str, version: int | None) -> ContractVersion:
    try:
        return registry.get(name, version)
    except ContractError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None


def _summary(version: ContractVersion, registry: ContractRegistry) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "origin": version.origin,
        "schema_hash": version.schema_hash,
        "registered_at": version.registered_at.isoformat(timespec="seconds") if version.registered_at else None,
        "compatibility": version.compatibility,
        **_judged(registry, version),
        "parent_version": version.parent_version,
        "owner": version.owner,
        "description": version.description,
        "modes": version.modes,
    }


def _judged(registry: ContractRegistry, version: ContractVersion) -> dict[str, Any]:
    """The version's verdict judged now (the code's class where the code declares it, else the history's schema),
    rather than what was recorded when it was registered, or ``not_checked`` for versions never registered."""
    code = next((d for d in registry.declared(version.name) if d.version == version.version), None)
    try:
        verdict = registry.check(code.contract) if code is not None and code.contract else registry.verdict(version)
    except ContractConflictError as exc:
        return {"verdict": "changed", "reasons": list(exc.reasons), "checked_against": []}
    return {
        "verdict": verdict.summary, "reasons": list(verdict.reasons), "checked_against": list(verdict.checked_against)
    }


def _against(versions: list[int]) -> str:
    return ", ".join(f"v{v}" for v in versions) or "-"


def _fields(version: ContractVersion) -> list[dict[str, Any]]:
    info = version.contract.__contract__ if version.contract is not None else None
    tags = _by_schema_path(version.tags, info.input_paths if info is not None else {})
    overrides = _by_schema_path(info.field_modes, info.input_paths) if info is not None else {}
    return [
        {
            "path": path,
            "type": shape.type,
            "nullable": shape.nullable,
            "required": shape.required,
            "enum": list(shape.enum) if shape.enum is not None else None,
            "constraints": dict(shape.constraints),
            "tags": list(tags.get(path.replace("[]", ""), ())),
            "modes": dict(overrides.get(path.replace("[]", ""), {})),
        }
        for path, shape in field_shapes(version.json_schema).items()
    ]


def _by_schema_path(by_field: Mapping[str, Any], input_paths: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """``by_field`` (keyed by attribute path, ``line_items.sku``) under every spelling the JSON Schema may use for
    the field (its alias, ``lineItems.sku``; list items' ``[]`` left out)."""
    return {spelled: value for path, value in by_field.items() for spelled in (path, *input_paths.get(path, ()))}


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _print(table: Table) -> None:
    Console(width=max(120, Console().width)).print(table)
