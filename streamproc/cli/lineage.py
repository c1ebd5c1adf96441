"""``streamproc lineage ...``: the lineage outbox and rebuilding OpenLineage events from the lake.

Events go where openlineage-python's own configuration says (``openlineage.yml``, ``OPENLINEAGE_URL``,
``OPENLINEAGE__TRANSPORT__*``), through the pipeline's outbox, in order, with retries; a command that sends refuses
to when that configuration names no transport (:mod:`streamproc.observe.openlineage.transport`). Exit status: 0
everything delivered (or printed, by a console transport asked for); 1 events are still waiting in the outbox, or the
lake could not be read; 2 a config error: no transport to send through, or the outbox of a pipeline that does not
enable lineage (and so never kept an event).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click

from contracts import ContractError
from streamproc.cli.exits import EXIT_CONFIG_ERROR, EXIT_RUNTIME_ERROR, fail, read_config, read_pipeline
from streamproc.cli.times import When
from streamproc.errors import ConfigError, StreamprocError

if TYPE_CHECKING:
    from openlineage.client import OpenLineageClient

__all__ = ["lineage"]


@click.group()
def lineage() -> None:
    """OpenLineage events of a pipeline: the outbox of undelivered events, and rebuilding events from the lake.

    Events are sent through openlineage-python's own transport configuration: OPENLINEAGE_URL (+ OPENLINEAGE_API_KEY),
    OPENLINEAGE__TRANSPORT__* variables, or an openlineage.yml (at OPENLINEAGE_CONFIG, in the working directory or in
    ~/.openlineage/). A command that sends exits 2 when none names a transport.

    \b
    Examples:
      streamproc lineage outbox pipeline.yaml --flush
      streamproc lineage backfill pipeline.yaml --dry-run
    """


@lineage.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-id", "run_ids", multiple=True, help="Only this run (repeatable).")
@click.option("--since", type=When(), help="Only loads committed at or after this time (ISO, UTC unless an offset "
              "is given; or back from now: 30m, 6h, 7d).")
@click.option(
    "--dry-run", is_flag=True, help="Print the events as JSON lines instead of sending them (needs no transport)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="Seconds to keep trying to deliver; what is left waits in the outbox.",
)
def backfill(
    config_file: Path, run_ids: tuple[str, ...], since: dt.datetime | None, dry_run: bool, timeout: float
) -> None:
    """Rebuild the pipeline's OpenLineage events from the lake (_loads and the Delta commits) and send them.

    Each run with loads becomes a START and one RUNNING per load, with the datasets, versions, offsets and contract
    of each load: what the live pipeline sends, for a catalog that was down or lost its database. Sending twice
    is harmless. Works whether or not the config enables lineage. Without a configured transport it exits 2 before
    sending (see `streamproc lineage --help`); through a console transport asked for, the summary says "printed".

    \b
    Examples:
      streamproc lineage backfill pipeline.yaml --dry-run                 the events, as JSON lines
      OPENLINEAGE_URL=http://catalog:5000 streamproc lineage backfill pipeline.yaml --since 2026-11-01
    """
    from openlineage.client.serde import Serde

    from streamproc.observe.openlineage.backfill import rebuild_events
    from streamproc.observe.openlineage.delivery import Deliverer
    from streamproc.observe.openlineage.observer import outbox_of
    from streamproc.observe.openlineage.transport import sent_as

    config, contracts = read_pipeline(config_file)
    # Before reading the lake: without a transport nothing would reach a catalog, and the events would leave the
    # outbox as if they had.
    client = None if dry_run else _client()
    when = since.replace(tzinfo=dt.UTC) if since is not None and since.tzinfo is None else since
    try:
        rebuilt = [Serde.to_dict(event) for event in rebuild_events(config, contracts, run_ids=run_ids or None, since=when)]
    except (StreamprocError, ContractError) as exc:
        fail(str(exc), EXIT_RUNTIME_ERROR)
    # the lake may hold loads that the filters leave out: say which it is
    none = "no loads of this pipeline match " + " and ".join(
        name for name, given in (("--run-id", run_ids), ("--since", since)) if given
    ) if run_ids or since else "no loads of this pipeline in the lake"
    if client is None:  # --dry-run
        if not rebuilt:  # on stderr: stdout stays the JSON lines (none), and an empty answer is not a silent one
            click.echo(f"{none}: nothing to rebuild", err=True)
        for event in rebuilt:
            click.echo(json.dumps(event, sort_keys=True))
        return
    runs = len({e["run"]["runId"] for e in rebuilt})
    if not rebuilt:
        click.echo(f"{none}: nothing to send")
        return
    outbox = outbox_of(config)
    log = outbox.create(uuid.uuid4().hex, kind="backfill")
    for event in rebuilt:
        log.append(event)
    log.seal()
    deliverer = Deliverer(client, outbox, pipeline=config.name, retry_max_seconds=config.lineage.retry_max_seconds)
    deliverer.add(log)
    deliverer.start()
    left = deliverer.close(timeout)
    click.echo(
        f"rebuilt {len(rebuilt)} events of {runs} run(s); {sent_as(client)} {len(rebuilt) - left}, "
        f"waiting in {outbox.directory}: {left}"
    )
    if left:
        raise SystemExit(1)


@lineage.command()
@click.argument("config_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--flush", is_flag=True, help="Deliver what processes that ended left behind.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="With --flush: seconds to keep trying.",
)
def outbox(config_file: Path, flush: bool, timeout: float) -> None:
    """Show the pipeline's lineage outbox (undelivered events per run); --flush delivers them.

    A log held by a running pipeline is shown as live and left to it. A pipeline whose config does not enable
    lineage (lineage: {enabled: true}) keeps no events: exit 2, unless a backfill left some there. --flush without
    a configured transport exits 2 and leaves the events waiting. Read only before any run: a missing outbox is
    shown empty, not created.

    \b
    Examples:
      streamproc lineage outbox pipeline.yaml
      streamproc lineage outbox pipeline.yaml --flush --timeout 30
    """
    from streamproc.observe.openlineage.delivery import Deliverer
    from streamproc.observe.openlineage.observer import adopt_orphans, outbox_dir, outbox_of
    from streamproc.observe.openlineage.transport import sent_as

    config = read_config(config_file)
    disabled = not config.lineage.enabled
    if disabled and not _holds_events(outbox_dir(config)):
        # An empty outbox would read as "everything was delivered", though this pipeline never emitted an event.
        # One that holds events (a backfill's undelivered ones, or a run's from before lineage was turned off) is
        # still shown and flushed below.
        fail(_not_enabled(config_file), EXIT_CONFIG_ERROR)
    # Before touching a log: without a transport its events would leave the outbox as if delivered.
    client = _client() if flush else None
    if not outbox_dir(config).is_dir():  # no run kept an event yet: say so without creating the folder
        click.echo(f"lineage outbox {outbox_dir(config)}\n  empty: no event waits to be delivered")
        return
    box = outbox_of(config)
    if client is not None:
        orphans = adopt_orphans(box, by="`streamproc lineage outbox --flush`")
        deliverer = Deliverer(client, box, pipeline=config.name, retry_max_seconds=config.lineage.retry_max_seconds)
        for log in orphans:
            deliverer.add(log)
        deliverer.start()
        left = deliverer.close(timeout)
        click.echo(f"{sent_as(client)} what {len(orphans)} log(s) held; still waiting: {left}")
        if left:
            raise SystemExit(1)
        return
    rows = box.status()
    click.echo(f"lineage outbox {box.directory}")
    if disabled:
        click.echo("  lineage is not enabled for this pipeline: what follows was left by `lineage backfill`, or by a "
                   "run before lineage was turned off")
    if not rows:
        click.echo("  empty: no event waits to be delivered")
    for row in rows:
        if row["live"]:
            click.echo(f"  {row['file']}  held by a running pipeline")
        else:
            click.echo(
                f"  {row['file']}  pending {row['pending']}, delivered {row['delivered']}, "
                f"last {row['last_event_type']}{'' if row['sealed'] else ', not ended'}"
            )
    rejected = box.directory / "rejected.jsonl"
    if rejected.exists():
        count = sum(1 for _ in rejected.open("rb"))
        click.echo(f"  rejected.jsonl: {count} event(s) the receiver refused as invalid")


def _holds_events(directory: Path) -> bool:
    """Whether an outbox folder holds any log or ``rejected.jsonl`` (read only: a missing folder is not created)."""
    return directory.is_dir() and any(directory.glob("*.jsonl"))


def _not_enabled(config_file: Path) -> str:
    return (
        f"lineage is not enabled for this pipeline, so it never kept an OpenLineage event in an outbox: enable it "
        f"with `lineage: {{enabled: true}}` in {config_file} (see docs/lineage.md); `streamproc lineage backfill "
        f"{config_file}` sends the events of the loads already in the lake"
    )


def _client() -> OpenLineageClient:
    """openlineage-python's client (:func:`streamproc.observe.openlineage.transport.open_client`); exits 2 when its
    configuration names no transport, or cannot be used."""
    from streamproc.observe.openlineage.transport import open_client

    try:
        return open_client()
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
