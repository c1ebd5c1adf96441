"""Errors raised by the catalog service, its storage and its CLI.

The tree, split by what the caller does next::

    CatalogError                      root: catch this to catch everything from `catalog`
     ├── ConfigError                  stop: settings are missing or contradictory (fix the environment)
     │    └── MissingDatabaseError    stop: a query names a catalog database that does not exist
     ├── AuthError                    stop: missing or wrong API token (HTTP 401)
     ├── InvalidEventError            bad data: the OpenLineage event is not valid (HTTP 400 / 422); never retried
     ├── NotFoundError                bad request: no such dataset / job / field (HTTP 404)
     │    └── AmbiguousNameError      bad request: a short name matches several datasets (HTTP 409)
     ├── StorageError                 retry: the database failed (connection lost, lock timeout)
     │    └── MigrationError          stop: the schema could not be upgraded
     └── RemoteError                  retry or stop, per `status`: the remote catalog answered with an error

Third-party errors (SQLAlchemy, Alembic, httpx) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousNameError",
    "AuthError",
    "CatalogError",
    "ConfigError",
    "InvalidEventError",
    "MigrationError",
    "MissingDatabaseError",
    "NotFoundError",
    "RemoteError",
    "StorageError",
]


class CatalogError(Exception):
    """Root of every error raised by the `catalog` package."""


class ConfigError(CatalogError):
    """Settings are missing or contradictory, e.g. auth enabled but no ``CATALOG_API_TOKEN``."""


class MissingDatabaseError(ConfigError):
    """A query (CLI, local database) names a catalog database that does not exist; queries never create one."""


class AuthError(CatalogError):
    """The request has no ``Authorization: Bearer`` header, or the token does not match."""


class InvalidEventError(CatalogError):
    """An OpenLineage event failed validation.

    Attributes:
        errors: every violation, each ``{"loc": [str | int, ...], "msg": str, "type": str}``.
        status: the HTTP status to answer with: 400 for a body that is not a JSON object, 422 for a JSON object that
            is not a valid OpenLineage event.
    """

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.errors: list[dict[str, Any]] = errors or []
        self.status = status


class NotFoundError(CatalogError):
    """No dataset, job or field has that name."""


class AmbiguousNameError(NotFoundError):
    """A short dataset name matches several datasets; ``candidates`` lists them as ``namespace:name``."""

    def __init__(self, message: str, *, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class StorageError(CatalogError):
    """The database failed; the operation may succeed if retried."""


class MigrationError(StorageError):
    """Alembic could not bring the database schema to the head revision."""


class RemoteError(CatalogError):
    """A remote catalog answered with an HTTP error or could not be reached (``status`` is 0 then)."""

    def __init__(self, message: str, *, status: int, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
