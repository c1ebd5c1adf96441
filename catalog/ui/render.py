"""Rendering pages: the Jinja environment (templates in ``catalog/ui/templates``) and the filters pages use."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "dataset_url", "node_url", "page", "templates"]

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def dataset_url(node_id: str) -> str:
    return f"/dataset?id={quote(node_id, safe='')}"


def node_url(node_id: str) -> str:
    """The page of a node id: ``job:...`` → its job page, anything else → its dataset page."""
    return f"/job?id={quote(node_id, safe='')}" if node_id.startswith("job:") else dataset_url(node_id)


def _short(node_id: str) -> str:
    """A readable name for a node id: the last path segment of a dataset, a job's name."""
    tail = node_id.split(":", 1)[-1]
    return tail.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] or node_id


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


templates.env.filters.update(node_url=node_url, dataset_url=dataset_url, short=_short, percent=_percent)
templates.env.globals.update(quote=lambda s: quote(s, safe=""))


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/<name>`` with ``context``; ``auth`` says whether a token protects the pages (a logout
    button then)."""
    settings = request.app.state.settings
    context.setdefault("auth", not settings.auth_disabled)
    return templates.TemplateResponse(request, name, context, status_code=status_code)
