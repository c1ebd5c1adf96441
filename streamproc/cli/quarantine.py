"""``streamproc quarantine show | replay``: inspect a pipeline's quarantine tables, and replay what a fixed contract
now accepts, exactly once (:mod:`streamproc.ops.quarantine`)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from contracts import ContractError
from streamproc.cli.exits import EXIT_CONFIG_ERROR, EXIT_RUNTIME_ERROR, fail, read_pipeline
from streamproc.cli.times import When
from streamproc.errors import ConfigError, StreamprocError
from streamproc.ops.quarantine.rows import QuarantineFilter

__all__ = ["quarantine_group"]

def _filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """The row filters ``show`` and ``replay`` share."""
    options = [
        click.option("--since", type=When(), help="Rows quarantined at or after this time (ISO, UTC unless an "
                     "offset is given; or back from now: 30m, 6h, 7d)."),
        click.option("--until", type=When(), help="Rows quarantined before this time (same forms)."),
        click.option("--field", "fields", multiple=True, metavar="LOC",
                     help="Rows with a current violation at this field, or inside it (dotted: address.zip; "
                     "named as in the events, so a field's alias). Repeatable."),
        click.option("--type", "types", multiple=True, metavar="TYPE",
                     help="Rows with a current violation of this type (missing, literal_error, json_invalid...). "
                     "Repeatable."),
        click.option("--where", metavar="SQL", help="A SQL condition over the quarantine table's columns, e.g. "
                     "\"_partition = 0 AND contract_version = 1\" (DataFusion's dialect)."),
        click.option("--table", "tables", multiple=True, metavar="NAME",
                     help="Only this route table's quarantine (default: every route's). Repeatable."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filter(since: dt.datetime | None, until: dt.datetime | None, fields: tuple[str, ...], types: tuple[str, ...],
            where: str | None, tables: tuple[str, ...]) -> QuarantineFilter:
    return QuarantineFilter(since=since, until=until, fields=fields, types=types, where=where, tables=tables)


@click.group("quarantine")
def quarantine_group() -> None:
    """Inspect a pipeline's quarantine tables, and replay the events a fixed contract now accepts, exactly once.

    \b
    The loop:
      streamproc quarantine show pipeline.yaml               what was refused, why, since when
      (fix the contract: a new version that accepts what it should)
      streamproc quarantine replay pipeline.yaml --dry-run   what would land, what would still fail
      streamproc quarantine replay pipeline.yaml             land it, exactly once
    """


@quarantine_group.command("show")
@click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@_filters
@click.option("--status", type=click.Choice(["unresolved", "replayed", "value_discarded", "all"]), default="unresolved",
              show_default=True, help="Which rows the counts and samples cover: not landed yet (open, or re-checked "
              "and still failing), replayed, landed by the pipeline without some values, or all.")
@click.option("--samples", type=click.IntRange(min=0), default=5, show_default=True,
              help="Newest rows shown per table.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per table, as a JSON list.")
def show(config_file: Path, since: dt.datetime | None, until: dt.datetime | None, fields: tuple[str, ...],
         types: tuple[str, ...], where: str | None, tables: tuple[str, ...], status: str, samples: int,
         as_json: bool) -> None:
    """What is in the quarantine of each table of CONFIG's pipeline: rows by state, current violations by type and
    by field, rows over time per contract version of their latest verdict (the version that quarantined a row, or
    the one a replay last re-checked it with), and the newest rows with their source coordinates (payloads redacted
    as the contract's PII policy says).

    \b
    Examples:
      streamproc quarantine show pipeline.yaml --since 24h
      streamproc quarantine show pipeline.yaml --type literal_error --field currency --json
    """
    from streamproc.ops.quarantine.show import show_quarantine

    config, contracts = read_pipeline(config_file)
    try:
        views = show_quarantine(config, contracts, filter=_filter(since, until, fields, types, where, tables),
                                status=status, samples=samples)  # type: ignore[arg-type]
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    except StreamprocError as exc:
        fail(str(exc), EXIT_RUNTIME_ERROR)
    if as_json:
        click.echo(json.dumps([v.as_dict() for v in views], default=str))
        return
    from streamproc.cli.quarantine_text import print_views

    print_views(views)


@quarantine_group.command("replay")
@click.argument("config_file", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@_filters
@click.option("--dry-run", is_flag=True, help="Judge the rows and print what would land and what would still fail; "
              "write nothing.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Quarantine rows per replay load (one commit each to the resolutions, the table and _loads).")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def replay(config_file: Path, since: dt.datetime | None, until: dt.datetime | None, fields: tuple[str, ...],
           types: tuple[str, ...], where: str | None, tables: tuple[str, ...], dry_run: bool, batch_size: int,
           as_json: bool, progress: bool | None) -> None:
    """Re-validate the quarantined events of CONFIG's pipeline against its contracts as they are now, and land
    those that pass into their tables, exactly once.

    Each event keeps its lineage (_source, _partition, _offset of the event) and gets the replay load's _load_id;
    each load gets a _loads row with close_reason "replay". Quarantine rows are never deleted: each one's resolution
    (replayed into load X, or still failing with the new version's violations) goes to <quarantine>_resolutions.
    A replay killed at any moment and run again lands nothing twice; running it again after it finished lands
    nothing; with nothing to replay (no quarantine table yet, no row matching the filters, every one landed already) it
    says so and writes nothing. Safe
    beside the running pipeline; run one replay at a time. Exit status: 0 done (rows may still fail:
    see the summary), 1 storage or another replay committing meanwhile, 2 config or contract error.

    \b
    Examples:
      streamproc quarantine replay pipeline.yaml --dry-run
      streamproc quarantine replay pipeline.yaml --type literal_error --since 7d
    """
    from streamproc.cli.quarantine_text import ProgressBar, print_summary
    from streamproc.ops.quarantine.report import ReplaySummary
    from streamproc.ops.quarantine.replay import QuarantineReplay
    from streamproc.ops.quarantine.sources import busy_quarantines, open_quarantines
    from streamproc.runtime.build import open_registry

    config, contracts = read_pipeline(config_file)
    rows = _filter(since, until, fields, types, where, tables)
    bar = ProgressBar(sys.stderr.isatty() if progress is None else progress)
    listeners: list[Any] = [bar]
    lineage = None
    try:
        found, missing = open_quarantines(contracts, rows)
        busy, idle = busy_quarantines(contracts, found, rows)
        if not busy:
            # Before any run, or no row left to take: nothing to replay, so nothing to write either (no empty
            # resolutions table, no contract versions registered in _contracts, no OpenLineage run of a replay that
            # did nothing).
            summary = ReplaySummary(None, dry_run, missing=missing, idle=idle)
        else:
            if config.lineage.enabled and not dry_run:
                from streamproc.observe.openlineage.replay import ReplayLineage

                # before the registry records a contract version: a replay that cannot send (no transport) is
                # refused having written nothing
                lineage = ReplayLineage(config, contracts)
                listeners.append(lineage)
            # the replay registers the contracts of the tables it replays into, those only (--table)
            registry = open_registry(config, contracts, register=False)
            with bar:
                summary = QuarantineReplay(
                    config, contracts, registry, filter=rows, dry_run=dry_run, batch_size=batch_size,
                    listeners=listeners,
                ).run()
    except (ConfigError, ContractError) as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    except StreamprocError as exc:
        fail(str(exc), EXIT_RUNTIME_ERROR)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), default=str))
    else:
        print_summary(summary)
    if lineage is not None and lineage.left:
        click.echo(f"{lineage.left} OpenLineage event(s) wait in the lineage outbox: streamproc lineage outbox "
                   f"{config_file} --flush", err=True)
