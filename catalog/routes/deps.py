"""Dependencies shared by the routers: a database session per request."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

__all__ = ["session"]


def session(request: Request) -> Iterator[Session]:
    """A session in a transaction for the duration of the request (read-only routes just read)."""
    with request.app.state.db.session() as s:
        yield s
