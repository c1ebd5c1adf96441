"""Where the CLI gets its answers: the local database (``LocalCatalog``) or a remote catalog over HTTP
(``RemoteCatalog``, the ``/api/v1/catalog/*`` query API). Both return the same dicts (see ``catalog.query``).

Lifecycle: open on construction, ``close()`` once; a closed catalog refuses further calls.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from catalog import query
from catalog.config import DEFAULT_DATABASE_URL
from catalog.errors import MissingDatabaseError, RemoteError, StorageError
from catalog.storage.db import Database

__all__ = ["Catalog", "LocalCatalog", "RemoteCatalog"]

_LOCAL = {
    "lineage": lambda s, p: query.lineage(s, p["dataset"], depth=p["depth"], direction=p["direction"]),
    "column-lineage": lambda s, p: query.column_lineage(
        s, p["dataset"], p["field"], depth=p.get("depth", 10), direction=p.get("direction", "up")
    ),
    "schema-history": lambda s, p: query.schema_history(s, p["dataset"]),
    "pii": lambda s, p: query.pii(s, tag=p.get("tag")),
    "loads": lambda s, p: (
        query.loads_for_offset(s, topic=p["topic"], partition=p["partition"], offset=p["offset"])
        if "topic" in p
        else query.loads(s, p["dataset"])
    ),
    "search": lambda s, p: query.search(s, p["q"], limit=p.get("limit", 50)),
}


class Catalog(Protocol):
    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """Answer ``endpoint`` (``lineage``, ``column-lineage``, ``schema-history``, ``pii``, ``loads``,
        ``search``) with ``params`` (the query API's parameters; ``None`` values are dropped)."""
        ...

    def close(self) -> None: ...


DEMO_DATABASE_URL = "sqlite:///var/demo/catalog/catalog.db"
"""Where ``make demo`` keeps its catalog (``examples/flights/demo.py``)."""


class LocalCatalog:
    """Reads an existing catalog database directly (migrating it to head first if it is older); never creates one.

    Raises:
        MissingDatabaseError: there is no database at ``database_url``, or it holds no catalog (never migrated).
        ConfigError: the URL is invalid. StorageError / MigrationError: the database failed.
    """

    def __init__(self, database_url: str) -> None:
        hint = (
            "serve the catalog (`streamproc catalog serve`) or create it (`streamproc catalog db upgrade`), or name "
            "another with --database-url / CATALOG_DATABASE_URL"
        )
        if database_url == DEFAULT_DATABASE_URL:
            hint += f" (`make demo` writes {DEMO_DATABASE_URL.removeprefix('sqlite:///')}: {DEMO_DATABASE_URL})"
        try:
            self._db = Database(database_url, create=False)
        except MissingDatabaseError as exc:
            raise MissingDatabaseError(f"{exc}: {hint}") from None
        if self._db.current_revision() is None:
            self._db.close()
            raise MissingDatabaseError(f"{database_url} holds no catalog (it was never migrated): {hint}")
        self._db.upgrade()

    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """Raises: NotFoundError, AmbiguousNameError, StorageError (also once closed)."""
        with self._db.session() as session:
            return _LOCAL[endpoint](session, {k: v for k, v in params.items() if v is not None})

    def close(self) -> None:
        self._db.close()


class RemoteCatalog:
    """Queries ``{url}/api/v1/catalog/{endpoint}`` with ``Authorization: Bearer <token>``."""

    def __init__(self, url: str, *, token: str | None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self._closed = False

    def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """Raises: RemoteError (``status`` 0 when unreachable; else the HTTP status and the error body)."""
        if self._closed:
            raise StorageError("the remote catalog client is closed")
        try:
            response = self._http.get(
                f"/api/v1/catalog/{endpoint}", params={k: v for k, v in params.items() if v is not None}
            )
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach the catalog at {self._http.base_url}: {exc}", status=0) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or body.get("detail") or response.text
            except ValueError:
                body, message = response.text, response.text
            raise RemoteError(
                f"catalog answered {response.status_code}: {message}", status=response.status_code, body=body
            )
        return response.json()

    def close(self) -> None:
        self._closed = True
        self._http.close()
