"""The catalog's web UI, served at ``/`` beside the API by ``streamproc catalog serve``.

Server-rendered Jinja templates with htmx for partial updates; the lineage graph is drawn by Cytoscape.js with the
dagre layered layout, the charts by uPlot. Every asset is vendored in ``catalog/ui/static/vendor`` (no CDN, no JS
build step; versions and licenses in its ``README.md``). Pages read through ``catalog.query`` only.

Auth: with a token configured, a page asks for it once (``/login``) and keeps a signed session cookie (HttpOnly,
SameSite=Strict): the token is never put in a URL or a log. ``--no-auth`` serves the pages without asking.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from catalog.ui import data, docs, pages, session
from catalog.ui.render import STATIC_DIR

__all__ = ["mount_ui"]


def mount_ui(app: FastAPI) -> None:
    """Add the pages, their JSON data, the login, ``/docs`` (Swagger UI from vendored assets) and the static files
    (``/ui/static``) to ``app``."""
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    for module in (session, pages, data, docs):
        app.include_router(module.router)
