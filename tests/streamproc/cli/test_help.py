"""Every command's ``--help`` says what it does and shows how it is called: an example line ``streamproc <command>
...`` in its own help or its group's (the catalog's commands are the catalog's own CLI, tested there)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from streamproc.cli import cli

OWN_GROUPS = ("run", "replay", "positions", "quarantine", "contracts", "lineage")


def _commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...], ctx: click.Context) -> None:
        if callable(getattr(command, "load", None)):  # streamproc's LazyGroup
            command = command.load()
        found.append(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    walk(sub, (*path, name), ctx)

    with click.Context(cli) as ctx:
        for name in OWN_GROUPS:
            command = cli.get_command(ctx, name)
            assert command is not None, name
            walk(command, (name,), ctx)
    return found


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="streamproc", terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_every_command_says_what_it_does_and_shows_an_example(path: tuple[str, ...]) -> None:
    text = _help(path)
    description = text.split("\n\n", 2)[1].strip()
    assert len(description) > 20, f"streamproc {' '.join(path)} --help says nothing of what it does:\n{text}"
    # the example is in the command's help, or in its group's (a group's examples name its subcommands)
    helps = [text] + [_help(path[:i]) for i in range(len(path) - 1, 0, -1)]
    example = f"streamproc {path[0]} "
    assert any(
        line.strip().startswith(example) or f" {example}" in line
        for help_text in helps for line in help_text.splitlines()
        if path[-1] in line and not line.lstrip().startswith("Usage:")
    ), f"no example of streamproc {' '.join(path)} in its --help or its group's:\n{text}"
