"""``streamproc catalog ...``: the catalog's own click group (``catalog.cli:catalog``), mounted without importing it.

The catalog is a separate package (DESIGN.md: the runtime talks to it over HTTP/OpenLineage only); its CLI is only
imported when ``streamproc catalog`` runs, so the runtime's commands neither pay for its imports (SQLAlchemy,
FastAPI) nor need its optional dependencies (``pip install 'streamproc[catalog]'``).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

__all__ = ["LazyGroup", "catalog"]


class LazyGroup(click.Command):
    """A placeholder for a click command or group ``module:attribute``, loaded when it is invoked.

    Its help line is given here; ``streamproc <name> --help`` and every subcommand come from the real one.
    """

    def __init__(self, name: str, target: str, *, help_text: str, missing: str) -> None:
        super().__init__(name, help=help_text, short_help=help_text, add_help_option=False)
        self._target = target
        self._missing = missing

    def load(self) -> click.Command:
        """The real command.

        Raises:
            click.ClickException: its package (or one of its dependencies) is not installed.
        """
        module_name, _, attribute = self._target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(f"{self._missing} ({exc})") from exc
        command = getattr(module, attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self._target} is not a click command")
        return command

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        # Alembic logs its plugin setup at INFO whenever the catalog opens its database; under the streamproc CLI's
        # INFO default that would precede every answer.
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
        # The context belongs to the real command, so click invokes it (and its subcommands) from here on.
        return self.load().make_context(info_name, args, parent=parent, **extra)


catalog = LazyGroup(
    "catalog",
    "catalog.cli:catalog",
    help_text="Lineage, schema history, PII tags and loads from the catalog (serve it, or query it).",
    missing="the catalog is not installed: pip install 'streamproc[catalog]'",
)
"""The ``catalog`` group of the ``streamproc`` CLI."""
