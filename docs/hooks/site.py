"""MkDocs hooks for the streamproc site (mkdocs.yml ``hooks:``).

- ``on_config``: writes the catalog's OpenAPI document, generated from the application itself, to
  ``var/docs/catalog-openapi.json`` for the Catalog HTTP API page (neoteroi's ``[OAD(...)]``), so it cannot drift.
- links are written for the repository, as GitHub resolves them (README.md links ``docs/reading.md``, a docs page
  links ``../contracts/README.md``); in the site, a link to a file that a page includes whole (``--8<-- "FILE"``
  alone on the page) goes to that page, and a link from an included file into ``docs/`` goes to that page. So one
  text serves both, and ``validation.links`` checks every link (a link it cannot map is left, and warned about).
- code fences carry options for the tests (``python fixture:demo_lake``, ``bash notest``; see tests/docs/fences.py)
  that pymdownx.superfences does not understand: a Markdown preprocessor, run after pymdownx.snippets has included
  the READMEs and before the fences are parsed, keeps only the language and a ``title="..."``.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

OPENAPI = Path("var/docs/catalog-openapi.json")
_FENCE = re.compile(r'^(?P<indent>[ \t>]*)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+#.-]+)[ \t]+(?P<options>[^`\n]*)$', re.M)
_TITLE = re.compile(r'title="[^"]*"')
_WHOLE_INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<file>[^"]+)"\s*$')
DOCS = "docs"


@dataclass
class _Pages:
    """Which repository file each included page shows, and the page being rendered (MkDocs renders one at a time)."""

    included: dict[str, str] = field(default_factory=dict)  # repository path of an included file -> its page's src_uri
    current: str = ""  # src_uri of the page being rendered


_PAGES = _Pages()


def on_config(config: Any, **_: Any) -> Any:
    from catalog.app import create_app
    from catalog.config import CatalogSettings

    app = create_app(CatalogSettings(database_url="sqlite://", auth_disabled=True))
    OPENAPI.parent.mkdir(parents=True, exist_ok=True)
    OPENAPI.write_text(json.dumps(app.openapi(), indent=1), encoding="utf-8")
    docs = Path(config.docs_dir)
    _PAGES.included.clear()
    for page in docs.rglob("*.md"):
        whole = _WHOLE_INCLUDE.match(page.read_text(encoding="utf-8"))
        if whole:
            _PAGES.included[whole["file"]] = page.relative_to(docs).as_posix()
    config.markdown_extensions.append(_FenceOptions())
    return config


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    _PAGES.current = page.file.src_uri
    return markdown


def site_link(url: str, page: str) -> str:
    """``url`` as written in ``page``'s text (or in the file it includes whole), mapped to a link between site pages.

    Example: in ``index.md`` (which includes ``README.md``), ``docs/reading.md#with-duckdb`` ->
    ``reading.md#with-duckdb`` and ``contracts/README.md`` -> ``contracts.md``; in ``lineage.md``,
    ``../README.md#after-the-demo`` -> ``index.md#after-the-demo``. Anything else (external links, anchors, links
    between pages, links MkDocs will then report) is returned as it is.
    """
    scheme, netloc, path, query, anchor = urlsplit(url)
    if scheme or netloc or not path or path.startswith("/"):
        return url
    source = next((file for file, shown in _PAGES.included.items() if shown == page), None)
    folder = posixpath.dirname(source) if source else posixpath.join(DOCS, posixpath.dirname(page))
    target = posixpath.normpath(posixpath.join(folder, path))  # the repository path GitHub resolves
    if target in _PAGES.included:
        target = _PAGES.included[target]
    elif source and target.startswith(f"{DOCS}/"):
        target = target.removeprefix(f"{DOCS}/")
    else:
        return url
    return urlunsplit(("", "", posixpath.relpath(target, posixpath.dirname(page) or "."), query, anchor))


class _SiteLinks(Treeprocessor):
    def run(self, root: Element) -> None:
        for element in root.iter():
            key = {"a": "href", "img": "src"}.get(element.tag)
            if key and element.get(key):
                element.set(key, site_link(element.get(key, ""), _PAGES.current))


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
        # before MkDocs' own "relpath" (priority 0), which resolves and checks the links
        md.treeprocessors.register(_SiteLinks(md), "streamproc_site_links", 3)
