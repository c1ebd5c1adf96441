"""Exit statuses of every ``streamproc`` command, how its errors print, and reading a command's CONFIG the one way.

Every error prints as one line ``error: <message>`` on stderr: a command's own (:func:`fail`), and click's
(usage errors, a lazily mounted group whose package is missing) through :class:`StreamprocGroup`, the ``streamproc``
group, which click would print as ``Error: <message>``.

0 success; 1 runtime error (broker, storage, schema, a dead validation worker, a backfill not caught up); 2 usage,
config or contract error; 3 a ``freeze`` contract stopped the pipeline (nothing past the offending event was
committed); 130 a second SIGINT (Ctrl-C) stopped ``run`` at once. ``contracts check`` exits 1 for an incompatible
contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, NoReturn

import click

from contracts import ContractError
from streamproc.config import PipelineConfig, load_config
from streamproc.config.resolve import PipelineContracts, resolve_contracts
from streamproc.errors import ConfigError

__all__ = [
    "EXIT_CONFIG_ERROR", "EXIT_CONTRACT_STOP", "EXIT_INTERRUPTED", "EXIT_RUNTIME_ERROR", "StreamprocGroup", "fail",
    "read_config", "read_pipeline",
]

EXIT_RUNTIME_ERROR = 1
EXIT_CONFIG_ERROR = 2
EXIT_CONTRACT_STOP = 3
EXIT_INTERRUPTED = 130  # the shells' 128 + SIGINT


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


class _ClickError(click.ClickException):
    """One of click's errors, shown as every ``streamproc`` error is: a usage error keeps click's usage line and
    help hint above it, and its exit status (2; 1 for other click errors)."""

    def __init__(self, error: click.ClickException) -> None:
        super().__init__(error.message)
        self.error = error
        self.exit_code = error.exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        ctx = self.error.ctx if isinstance(self.error, click.UsageError) else None
        if ctx is not None:
            hint = ""
            if ctx.command.get_help_option(ctx) is not None:
                hint = f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.\n"
            click.echo(f"{ctx.get_usage()}\n{hint}", file=file, err=file is None, color=ctx.color)
        click.echo(f"error: {self.error.format_message()}", file=file, err=file is None)


class StreamprocGroup(click.Group):
    """The ``streamproc`` group: click's own errors, raised while it parses its arguments or its subcommands' and
    while they run, are shown as ``error: <message>`` (click shows ``Error: <message>``)."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _ClickError:
            raise
        except click.ClickException as exc:
            raise _ClickError(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _ClickError:
            raise
        except click.ClickException as exc:
            raise _ClickError(exc) from exc


def read_config(path: Path) -> PipelineConfig:
    """A CONFIG argument's file, for a command that needs no contract (exits 2 on an error)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)


def read_pipeline(path: Path) -> tuple[PipelineConfig, PipelineContracts]:
    """A CONFIG argument: the config file, and its contracts resolved as every command resolves them
    (:func:`streamproc.config.resolve.resolve_contracts`: the config's folder importable). Exits 2 on an error."""
    config = read_config(path)
    try:
        return config, resolve_contracts(config)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG_ERROR)
    except ContractError as exc:
        fail(f"contract error: {exc}", EXIT_CONFIG_ERROR)
