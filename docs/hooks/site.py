"""MkDocs hooks for the streamproc site (mkdocs.yml ``hooks:``).

- ``on_config``: writes the catalog's OpenAPI document, generated from the application itself, to
  ``var/docs/catalog-openapi.json`` for the Catalog HTTP API page (neoteroi's ``[OAD(...)]``), so it cannot drift.
- code fences carry options for the tests (``python fixture:demo_lake``, ``bash notest``; see tests/docs/fences.py)
  that pymdownx.superfences does not understand: a Markdown preprocessor, run after pymdownx.snippets has included
  the READMEs and before the fences are parsed, keeps only the language and a ``title="..."``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor

OPENAPI = Path("var/docs/catalog-openapi.json")
_FENCE = re.compile(r'^(?P<indent>[ \t>]*)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+#.-]+)[ \t]+(?P<options>[^`\n]*)$', re.M)
_TITLE = re.compile(r'title="[^"]*"')


def on_config(config: Any, **_: Any) -> Any:
    from catalog.app import create_app
    from catalog.config import CatalogSettings

    app = create_app(CatalogSettings(database_url="sqlite://", auth_disabled=True))
    OPENAPI.parent.mkdir(parents=True, exist_ok=True)
    OPENAPI.write_text(json.dumps(app.openapi(), indent=1), encoding="utf-8")
    config.markdown_extensions.append(_FenceOptions())
    return config


class _StripTestOptions(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        def keep(match: re.Match[str]) -> str:
            title = _TITLE.search(match["options"])
            head = f"{match['indent']}{match['fence']}{match['lang']}"
            return f"{head} {title.group(0)}" if title else head

        return _FENCE.sub(keep, "\n".join(lines)).split("\n")


class _FenceOptions(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 -- Python-Markdown's name
        # pymdownx.snippets runs at priority 32, superfences' fence parsing at 25
        md.preprocessors.register(_StripTestOptions(md), "streamproc_fence_options", 30)
