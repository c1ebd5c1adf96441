"""The catalog's FastAPI application: the API (OpenAPI description at ``/openapi.json``, Swagger UI at ``/docs`` from
vendored assets) and the web UI at ``/`` (``catalog.ui``).

Lifecycle: ``create_app(settings)`` checks the settings and opens the database; on startup (ASGI lifespan) the
Alembic migrations run to head; on shutdown the connection pool is disposed.

Errors map to JSON bodies ``{"code": status, "error": kind, "message": str, ...}`` (``code``/``message`` as in
Marquez): AuthError 401 (with ``WWW-Authenticate: Bearer``), InvalidEventError 400/422 (+ ``errors``),
NotFoundError 404, AmbiguousNameError 409 (+ ``candidates``), StorageError 503; so do FastAPI's own: a query
parameter missing or of the wrong type 422 ``invalid_request`` (+ ``errors``, each with its ``loc``), and an
``HTTPException`` (a bad combination of parameters 400, an unknown path 404) with its status.
"""

from __future__ import annotations

import time
from urllib.parse import quote
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from catalog import __version__
from catalog.config import CatalogSettings
from catalog.errors import AmbiguousNameError, AuthError, CatalogError, InvalidEventError, NotFoundError, StorageError
from catalog.metrics import Metrics
from catalog.routes import ingest, marquez, meta, query
from catalog.storage.db import Database
from catalog.ui import mount_ui
from catalog.ui.session import LoginRequired
from catalog.validation import load_json_schema

__all__ = ["create_app"]


def _error(status: int, kind: str, message: str, **extra: object) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"code": status, "error": kind, "message": message, **extra}, status_code=status, headers=headers
    )


async def _catalog_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, AuthError):
        return _error(401, "unauthorized", str(exc))
    if isinstance(exc, InvalidEventError):
        return _error(exc.status, "invalid_event", str(exc), errors=exc.errors)
    if isinstance(exc, AmbiguousNameError):
        return _error(409, "ambiguous_name", str(exc), candidates=exc.candidates)
    if isinstance(exc, NotFoundError):
        return _error(404, "not_found", str(exc))
    if isinstance(exc, StorageError):
        return _error(503, "storage_unavailable", str(exc))
    return _error(500, "catalog_error", str(exc))


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    told = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"  # ("query", "direction") -> direction
        told.append(f"{where}: {error.get('msg')}" + (f" (got {error['input']!r})" if error.get("input") else ""))
    located = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "message": e.get("msg")} for e in errors]
    return _error(422, "invalid_request", "; ".join(told) or "invalid request", errors=located)


_KINDS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
    response = _error(status, _KINDS.get(status, "http_error"), str(detail))
    if isinstance(exc, StarletteHTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


async def _login_required(_request: Request, exc: Exception) -> RedirectResponse:
    target = exc.next_url if isinstance(exc, LoginRequired) else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def create_app(settings: CatalogSettings, *, database: Database | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: frozen settings; ``settings.database_url`` is used unless ``database`` is given.
        database: an already open database (tests); the app closes it on shutdown either way.

    Raises:
        ConfigError: auth is on without a token, or the OpenLineage schema file is unusable.
    """
    settings.check_server()
    db = database or Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(db.upgrade)
        yield
        db.close()

    app = FastAPI(
        title="streamproc catalog",
        version=__version__,
        description="Stores OpenLineage events; answers lineage, schema history, PII and load questions. "
        "Reads are also served in Marquez's API shapes. Auth: `Authorization: Bearer <token>`.",
        lifespan=lifespan,
        docs_url=None,  # served by catalog.ui.docs from vendored Swagger UI assets, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = Metrics()
    app.state.json_schema = load_json_schema(settings.openlineage_schema) if settings.openlineage_schema else None
    app.add_exception_handler(CatalogError, _catalog_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LoginRequired, _login_required)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        app.state.metrics.request(template, request.method, response.status_code, time.perf_counter() - started)
        return response

    for module in (meta, ingest, query, marquez):
        app.include_router(module.router)
    mount_ui(app)
    return app
