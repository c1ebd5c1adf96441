"""``streamproc positions``: show where a pipeline resumes (the Delta log) beside Kafka's view, and move a position.

Like ``kafka-consumer-groups --describe`` / ``--reset-offsets``, but for the positions that count: the ``txn``
versions in the lake (see :mod:`streamproc.ops.positions`). A file source has them too: one partition, topic = the
file's name, offsets = event numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import click

from streamproc.cli.exits import EXIT_CONFIG_ERROR, EXIT_RUNTIME_ERROR, fail, read_pipeline
from streamproc.config import KafkaSourceConfig
from streamproc.errors import ConfigError, StreamprocError
from streamproc.ops.positions import (
    PartitionPosition,
    active_members,
    move_position,
    read_positions,
    source_topics,
)
from streamproc.records import TopicPartition

__all__ = ["positions_group"]


@click.group("positions")
def positions_group() -> None:
    """Where each partition resumes according to the Delta log, and moving it (re-land, skip, rename a group).

    \b
    Examples:
      streamproc positions show pipeline.yaml
      streamproc positions set pipeline.yaml --partition 0 --next-offset 1200
    """


@positions_group.command("show")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per partition, as a JSON list.")
def show(config_file: Path, as_json: bool) -> None:
    """Per partition: the last offset each table landed (every route's table and quarantine table, and _loads),
    where the pipeline resumes (the lowest + 1), the group's committed Kafka offset, the end offset, and the lag
    (--json: also the log start, the lowest offset `positions set` takes).

    A file source has one partition: topic = the file's name, partition 0, offsets = event numbers, the end = the
    file's events (no Kafka offset). Offsets are Kafka offsets (a file's: event numbers from 0); lag is in events.

    \b
    Example:
      streamproc positions show pipeline.yaml --json
    """
    config, contracts = read_pipeline(config_file)
    try:
        positions = anyio.run(read_positions, config, contracts)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    except StreamprocError as exc:
        fail(str(exc), EXIT_RUNTIME_ERROR)
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in positions]))
        return
    tables = list(positions[0].tables) if positions else []
    header = ("topic", "partition", *tables, "resumes at", "kafka committed", "end", "lag")
    rows = [
        (p.topic, p.partition, *(p.tables[t] for t in tables), p.resume_at, p.committed, p.end, p.lag)
        for p in positions
    ]
    cells = [[("-" if v is None else str(v)) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))


@positions_group.command("set")
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--topic", help="The topic (default: the pipeline's only topic; a file source's is the file's name).")
@click.option(
    "--partition", type=click.IntRange(min=0), required=True, help="The partition number (a file source's: 0)."
)
@click.option(
    "--next-offset",
    type=click.IntRange(min=0),
    required=True,
    help="The offset to resume from: the next event landed is this one.",
)
@click.option("--group", help="Write the position under this consumer group instead (carrying positions over to a "
              "renamed group).")
@click.option("--force", is_flag=True, help="Even if members of the group are running (they may land across it). "
              "It does not allow a NEXT_OFFSET outside the partition.")
def set_(config_file: Path, topic: str | None, partition: int, next_offset: int, group: str | None, force: bool) -> None:
    """Make PARTITION resume at NEXT_OFFSET: an empty commit with that position to every table of the pipeline
    (every route's table and quarantine table, and _loads). Rewinding re-lands what follows (delete those rows
    first, or they land twice); moving ahead skips events for good. Stop the pipeline first: with a Kafka source a
    running member of the group refuses the move (unless --force); a file source has no group to ask, so nothing
    can check that for it. A file source's one partition is 0 (re-land the file from event N: --next-offset N).

    NEXT_OFFSET must lie within the partition, from its log start (Kafka's first offset retention kept; a file's 0)
    to its end (skip everything so far: --next-offset <end>). Past the end it would skip events not yet written,
    silently, as they arrive; below the log start it would leave the start to auto_offset_reset. No flag allows
    either, as kafka-consumer-groups --reset-offsets never stores an offset outside that range (it clamps it).

    \b
    Examples:
      streamproc positions set pipeline.yaml --partition 0 --next-offset 1200    re-land partition 0 from 1200
    """
    config, contracts = read_pipeline(config_file)
    try:
        topics = source_topics(config)
        if topic is None and len(topics) != 1:
            raise ConfigError(f"the pipeline reads {len(topics)} topics: name one with --topic")
        topic = topic or topics[0]
        members = anyio.run(active_members, config) if isinstance(config.source, KafkaSourceConfig) else 0
        if members and not force:
            raise ConfigError(
                f"group {config.source.consumer_group!r} has {members} running member(s): stop the pipeline first "
                "(or --force)"
            )
        if topic not in topics:
            raise ConfigError(f"the pipeline reads no topic {topic!r} (it reads {', '.join(topics)})")
        before = {(p.topic, p.partition): p for p in anyio.run(read_positions, config, contracts)}
        partitions = sorted(p for t, p in before if t == topic)
        if isinstance(config.source, KafkaSourceConfig) and partition not in partitions:
            # A position for a partition the topic lacks would be an empty commit to every table under an app id no
            # run ever reads: a typo that looked like success.
            raise ConfigError(
                f"topic {topic!r} has no partition {partition} (its partitions: "
                f"{', '.join(map(str, partitions)) or 'none: does the topic exist?'})"
            )
        position = before.get((topic, partition))
        if position is not None:  # None: a file source's partition other than 0, which move_position refuses
            _check_in_partition(position, next_offset)
        move_position(config, contracts, TopicPartition(topic, partition), next_offset, group=group)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    except StreamprocError as exc:
        fail(str(exc), EXIT_RUNTIME_ERROR)
    if group:
        click.echo(f"{topic}[{partition}] resumes at {next_offset} for group {group}")
    else:
        click.echo(f"{topic}[{partition}] resumes at {next_offset} (was: {before[(topic, partition)].resume_at})")


def _check_in_partition(position: PartitionPosition, next_offset: int) -> None:
    """Refuse a position outside ``position``'s partition: past its end (events not yet written would be skipped
    when they arrive, with nothing to say so) or below its log start (deleted by retention: the consumer would find
    the offset out of range and start where ``auto_offset_reset`` says, ``latest`` skipping all the partition
    holds). An unknown end (a file that is gone) checks only the start.

    Raises:
        ConfigError: ``next_offset`` is outside ``[start, end]``; the message names the offset to use instead.
    """
    where = f"{position.topic}[{position.partition}]"
    end = position.end
    if end is not None and next_offset > end:
        skipped = next_offset - end
        raise ConfigError(
            f"{where} ends at offset {end}: resuming at {next_offset} would skip {_offsets(end, next_offset)} "
            f"({skipped:,} event{'' if skipped == 1 else 's'} not written yet) for good when they arrive, and "
            f"nothing would say so. To start from the end: --next-offset {end}"
        )
    if next_offset < position.start:
        raise ConfigError(
            f"{where} starts at offset {position.start} (retention deleted what came before): resuming at "
            f"{next_offset}, the consumer would find its offset out of range and start where auto_offset_reset "
            f"says ('latest': at the end, skipping all the partition holds). To re-land all it holds: "
            f"--next-offset {position.start}"
        )


def _offsets(first: int, stop: int) -> str:
    return f"offset {first}" if stop == first + 1 else f"offsets {first} to {stop - 1}"
