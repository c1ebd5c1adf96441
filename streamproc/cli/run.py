"""``streamproc run CONFIG``: the pipeline, until stopped or caught up (:class:`streamproc.runtime.runner.Runner`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlparse

import anyio
import click

from contracts import ContractError
from streamproc.cli.exits import EXIT_CONFIG_ERROR, EXIT_CONTRACT_STOP, EXIT_INTERRUPTED, EXIT_RUNTIME_ERROR, fail
from streamproc.config import PipelineConfig, load_config
from streamproc.errors import ConfigError, ContractStopError, StreamprocError

__all__ = ["run"]


@click.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Exit once every partition of the subscribed topics is landed up to the end offsets seen at start, "
    "whichever member of the consumer group owns it (this one waits for the others, and lands the partitions of "
    "members that died once the broker reassigns them); exits 1 naming the partitions that are not. For "
    "backfills, demos and tests; a file source always stops at its end; an HTTP source exits once what its "
    "write-ahead log held at start is landed (events it accepts meanwhile stay durable in the log).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
def run(config_file: Path, until_caught_up: bool, as_json: bool) -> None:
    """Run the pipeline described by CONFIG_FILE (YAML or TOML) until stopped.

    Joins the consumer group, validates every event against the contract, lands micro-batches into the Delta
    table (rejected events into <table>__quarantine, one row per load into _loads) and commits offsets to Kafka
    after each Delta commit. Serves /metrics, /healthz and /readyz on observability.host:port (default
    127.0.0.1:9108, loopback only; $STREAMPROC_OBSERVABILITY_HOST sets the default host, 0.0.0.0 in the container
    image) once the config and contracts are loaded. SIGINT/SIGTERM flush the open batch, commit and leave
    the group; a second Ctrl-C stops at once (exit 130: what was not landed is re-read on restart).

    Exit status: 0 stopped cleanly, 1 runtime error (broker, storage, a taken port), 2 config or contract error,
    3 a freeze contract stopped the pipeline, 130 a second Ctrl-C.

    \b
    Examples:
      streamproc run pipeline.yaml                          until SIGINT/SIGTERM
      streamproc run pipeline.yaml --until-caught-up --json   a backfill, its summary as JSON
    """
    # Imported here, and each optional part only when the config enables it (the endpoint's server, OpenLineage,
    # the Kafka or HTTP source): what a run never uses costs it no resident memory.
    from streamproc.runtime.runner import Runner

    try:
        config = load_config(config_file)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    unwritable = _unwritable_location(config)
    if unwritable:  # before the endpoint, the source or any table: delta-rs would say it in a multi-line OS error
        fail(unwritable, EXIT_RUNTIME_ERROR)
    runner = Runner(config, until_caught_up=until_caught_up)
    try:
        summary = anyio.run(runner.run)
    except ContractStopError as exc:
        click.echo(runner.summary.render(), err=True)
        fail(f"contract violation, pipeline stopped: {exc}", EXIT_CONTRACT_STOP)
    except ContractError as exc:
        fail(f"contract error: {exc}", EXIT_CONFIG_ERROR)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    except StreamprocError as exc:
        # An error that came before the pipelines ran (a taken HTTP source port) leaves the summary's default
        # "signal": whatever stopped this run, it was the error.
        runner.summary.stopped_by = "error"
        click.echo(runner.summary.render(), err=True)
        fail(str(exc), EXIT_RUNTIME_ERROR)
    except KeyboardInterrupt:  # Ctrl-C before the run watches signals (while loading and opening its parts)
        runner.summary.stopped_by = "interrupt"
        click.echo(runner.summary.render(), err=True)
        fail(_INTERRUPTED, EXIT_INTERRUPTED)
    if runner.interrupted:  # a second Ctrl-C cut the graceful stop short
        click.echo(summary.render(), err=True)
        fail(_INTERRUPTED, EXIT_INTERRUPTED)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.render())


_INTERRUPTED = "interrupted: stopped at once; what was landed stays (exactly once), what was not is re-read on restart"


def _unwritable_location(config: PipelineConfig) -> str | None:
    """Why a local folder the run writes (its tables, the HTTP source's write-ahead log) cannot be created or
    written by this user, or ``None``: the nearest existing folder of each location must be a writable folder.
    Object-store URLs are left to delta-rs, which names their errors itself."""
    source, sink = config.source, config.sink
    if getattr(source, "gateway", None) is not None:
        return None  # gateway mode produces to Kafka: no table written here, nor checked
    locations: list[tuple[str, str | None]] = [
        ("sink.table_uri", sink.table_uri),
        ("sink.quarantine_uri", sink.resolved_quarantine_uri),
        ("sink.loads_uri", sink.resolved_loads_uri),
        ("sink.contracts_uri", sink.resolved_contracts_uri),
    ]
    http_routes = getattr(source, "routes", {})
    locations += [(f"source.routes.{name}.table_uri", r.table_uri) for name, r in http_routes.items()]
    if config.routing is not None:
        routing = config.routing.routes
        locations += [(f"routing.routes.{name}.table_uri", r.table_uri) for name, r in routing.items()]
    locations.append(("source.wal_dir", getattr(source, "wal_dir", None)))
    for field, uri in locations:
        path = _local_path(uri)
        if path is None:
            continue
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            return (
                f"{field} {uri} cannot be created: {existing} is a file, not a folder; "
                f"point {field} at a folder this user can write"
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            return (
                f"{field} {uri} cannot be written: this user may not write in {existing}; "
                f"point {field} at a folder this user can write, or grant write access to it"
            )
    return None


def _local_path(uri: str | None) -> Path | None:
    """``uri`` as a local path (a plain path or ``file://``), or ``None`` for an object-store URL or no location."""
    if not uri:
        return None
    if "://" not in uri:
        return Path(uri)
    parsed = urlparse(uri)
    return Path(parsed.path) if parsed.scheme == "file" else None
