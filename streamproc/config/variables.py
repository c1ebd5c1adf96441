"""``${VAR}`` and ``${VAR:-default}`` in a pipeline config file: replaced from the environment in string values,
once the file is parsed, so that a value is never read as YAML or TOML syntax.

In YAML, a ``${VAR}`` may stand anywhere a plain value may, flow style included (``source: {path: ${DATA}}``,
``topics: [${TOPIC}]``), where its braces would otherwise be read as a flow mapping: :func:`parse_yaml` hides each
one behind a placeholder of the same length before parsing (so an error's line and column are the file's), and
:func:`expand` puts it back and replaces it.

Example::

    raw = expand(parse_yaml(text, path), path)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from streamproc.errors import ConfigError

__all__ = ["expand", "parse_yaml"]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\n]*))?\}")

# A placeholder: one character of Unicode's private use area naming the variable (its index), then padding up to the
# variable's length. YAML reads private use characters as ordinary text, in plain scalars of any style.
_FIRST, _LAST, _PAD = 0xE000, 0xF8FE, "\uf8ff"
_PLACEHOLDER = re.compile(f"[\ue000-\uf8fe]{_PAD}+")


def parse_yaml(text: str, path: Path) -> Any:
    """Parse YAML in which ``${VAR}`` may stand unquoted anywhere a plain value may (flow style included); the
    variables stay in the values as written, for :func:`expand`.

    Raises:
        ConfigError: the text is not valid YAML (the message gives the file's line and column, and its text).
    """
    variables: list[str] = []

    def hide(match: re.Match[str]) -> str:
        variables.append(match.group(0))
        return chr(_FIRST + len(variables) - 1) + _PAD * (len(match.group(0)) - 1)

    # A file that holds private use characters already, or more variables than there are placeholders, is parsed
    # as written: quote its variables in flow style.
    clash = re.search("[\ue000-\uf8ff]", text) is not None or len(_VARIABLE.findall(text)) > _LAST - _FIRST + 1
    hidden = text if clash else _VARIABLE.sub(hide, text)
    try:
        raw = yaml.safe_load(hidden)
    except yaml.YAMLError as exc:
        # PyYAML's marks quote the line (with the variables put back) and name the text: name the file instead
        message = _restore(str(exc), variables).replace('"<unicode string>"', f'"{path.name}"')
        raise ConfigError(f"{path} is not valid YAML: {message}") from exc
    return _restore(raw, variables) if variables else raw


def expand(value: Any, path: Path) -> Any:
    """``value`` (parsed YAML or TOML) with every ``${VAR}`` in its string values replaced from the environment.

    Raises:
        ConfigError: a variable is not set and has no default.
    """
    if isinstance(value, dict):
        return {k: expand(v, path) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, path) for v in value]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is not None:
                return found
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set and has no default")

        return _VARIABLE.sub(replace, value)
    return value


def _restore(value: Any, variables: list[str]) -> Any:
    """``value`` with each placeholder, in keys and values, back to the ``${...}`` it stands for."""
    if isinstance(value, dict):
        return {_restore(k, variables): _restore(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v, variables) for v in value]
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: variables[ord(match.group(0)[0]) - _FIRST], value)
    return value
