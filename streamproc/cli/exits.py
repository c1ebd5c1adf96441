"""Exit statuses of every ``streamproc`` command, and reading a command's CONFIG the one way.

0 success; 1 runtime error (broker, storage, schema, a dead validation worker, a backfill not caught up); 2 usage,
config or contract error; 3 a ``freeze`` contract stopped the pipeline (nothing past the offending event was
committed); 130 a second SIGINT (Ctrl-C) stopped ``run`` at once. ``contracts check`` exits 1 for an incompatible
contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from contracts import ContractError
from streamproc.config import PipelineConfig, load_config
from streamproc.config.resolve import PipelineContracts, resolve_contracts
from streamproc.errors import ConfigError

__all__ = [
    "EXIT_CONFIG_ERROR", "EXIT_CONTRACT_STOP", "EXIT_INTERRUPTED", "EXIT_RUNTIME_ERROR", "fail", "read_config",
    "read_pipeline",
]

EXIT_RUNTIME_ERROR = 1
EXIT_CONFIG_ERROR = 2
EXIT_CONTRACT_STOP = 3
EXIT_INTERRUPTED = 130  # the shells' 128 + SIGINT


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


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
