"""``streamproc run CONFIG``: the pipeline, until stopped or caught up (:class:`streamproc.runtime.runner.Runner`)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import click

from contracts import ContractError
from streamproc.cli.exits import EXIT_CONFIG_ERROR, EXIT_CONTRACT_STOP, EXIT_INTERRUPTED, EXIT_RUNTIME_ERROR, fail
from streamproc.config import load_config
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
    "backfills, demos and tests; a file source always stops at its end.",
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
    """
    # Imported here, and each optional part only when the config enables it (the endpoint's server, OpenLineage,
    # the Kafka or HTTP source): what a run never uses costs it no resident memory.
    from streamproc.runtime.runner import Runner

    try:
        config = load_config(config_file)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
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
