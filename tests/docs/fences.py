"""The code blocks (fences) of the Markdown files users read, and how each one says how it is tested.

A fence's info string is its language and options (pytest-markdown-docs' syntax, which GitHub and MkDocs ignore past
the language): ```` ```python fixture:demo_lake ````, ```` ```yaml title="openlineage.yml" ````,
```` ```bash notest ````. Python fences run under pytest-markdown-docs; the others under :mod:`tests.docs.plugin`.
A ``notest`` fence says why on its first line, as a comment: ``# not run in tests: <reason>``. ``text`` fences are
diagrams, program output and command synopses: not code to run (synopses are checked against the CLI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

__all__ = ["Fence", "fences", "DOCUMENTS", "PYTHON", "SHELL", "CONFIG", "NOT_CODE", "REASON"]

REPO = Path(__file__).resolve().parents[2]

# The Markdown files users read; every fence in them is run or marked (tests/docs/test_fences.py checks the list is
# complete). bench/RESULTS.md and bench/analysis.md are generated reports with no code blocks.
DOCUMENTS = (
    "README.md",
    "contracts/README.md",
    "catalog/README.md",
    "catalog/ui/static/vendor/README.md",
    "deploy/kafka/README.md",
    "docs/**/*.md",
)

PYTHON = frozenset({"python", "py", "python3"})
SHELL = frozenset({"bash", "sh", "shell"})
CONFIG = frozenset({"yaml", "yml", "toml"})
NOT_CODE = frozenset({"text"})
REASON = re.compile(r"^\s*#\s*not run in tests:\s*(?P<reason>\S.*)$")
_OPTION = re.compile(r'(?P<key>[\w:-]+)(?:="(?P<quoted>[^"]*)"|=(?P<bare>\S+))?')


@dataclass(frozen=True)
class Fence:
    """One fenced code block: where it is, its language, its options and its text."""

    path: Path
    line: int  # 1-based line of the opening ```
    language: str
    options: dict[str, str]  # info-string words after the language: ``notest`` → "", ``title="a.yml"`` → "a.yml"
    source: str

    @property
    def name(self) -> str:
        return f"{self.language or 'untagged'}@line {self.line}"

    @property
    def notest(self) -> bool:
        return "notest" in self.options

    @property
    def reason(self) -> str | None:
        """Why a ``notest`` fence is not run: its first line's ``# not run in tests: ...`` comment."""
        first = self.source.splitlines()[0] if self.source.strip() else ""
        match = REASON.match(first)
        return match.group("reason") if match else None

    @property
    def fixtures(self) -> tuple[str, ...]:
        return tuple(key.removeprefix("fixture:") for key in self.options if key.startswith("fixture:"))


def fences(path: Path) -> Iterator[Fence]:
    """Every fenced code block of a Markdown file, in order (as markdown-it-py, pytest-markdown-docs' parser, sees
    them; indented code blocks are not fences and are not run)."""
    for token in MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8")):
        if token.type != "fence" or token.map is None:
            continue
        language, _, rest = token.info.strip().partition(" ")
        options = {m["key"]: m["quoted"] or m["bare"] or "" for m in _OPTION.finditer(rest)}
        yield Fence(path=path, line=token.map[0] + 1, language=language, options=options, source=token.content)


def documents() -> list[Path]:
    """The Markdown files of :data:`DOCUMENTS`, as paths."""
    found: list[Path] = []
    for pattern in DOCUMENTS:
        found.extend(sorted(REPO.glob(pattern)))
    return found
