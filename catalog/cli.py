"""``catalog`` click group (mounted by the runtime as ``streamproc catalog ...``).

Commands: ``serve``, ``db upgrade``, ``lineage``, ``column-lineage``, ``schema-history``, ``pii``, ``loads``,
``search``. Queries read the local database (``CATALOG_DATABASE_URL``, default SQLite) unless ``--url`` /
``CATALOG_URL`` names a remote catalog (token: ``--token`` / ``CATALOG_TOKEN``). Tables by default, ``--json``
for machine output. Exit status 1 on any catalog error, with ``error: <message>`` on stderr (as every
``streamproc`` command says it); 2 on a usage error (click's own message).
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console

from catalog.client import Catalog, LocalCatalog, RemoteCatalog
from catalog.config import CatalogSettings, load_settings
from catalog.errors import CatalogError
from catalog.render import RENDERERS

__all__ = ["CatalogCommandError", "catalog", "main"]


class CatalogCommandError(click.ClickException):
    """A command's failure: ``error: <message>`` on stderr, exit status 1 (click's own says ``Error:``; the rest of
    ``streamproc`` says ``error:``)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class _Ctx:
    def __init__(self, settings: CatalogSettings) -> None:
        self.settings = settings

    def open(self) -> Catalog:
        if self.settings.url:
            return RemoteCatalog(self.settings.url, token=self.settings.client_token())
        return LocalCatalog(self.settings.database_url)


def _answer(ctx: click.Context, endpoint: str, as_json: bool, **params: Any) -> None:
    state: _Ctx = ctx.find_object(_Ctx)
    try:
        source = state.open()
        try:
            data = source.get(endpoint, **params)
        finally:
            source.close()
    except CatalogError as exc:
        raise CatalogCommandError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        RENDERERS[endpoint](Console(width=200 if not sys.stdout.isatty() else None), data)


def _json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


@click.group(name="catalog")
@click.option("--url", default=None, help="Remote catalog base URL [env CATALOG_URL]; default: the local database.")
@click.option("--token", default=None, help="API token for --url [env CATALOG_TOKEN].")
@click.option("--database-url", default=None, help="Local database URL [env CATALOG_DATABASE_URL].")
@click.pass_context
def catalog(ctx: click.Context, url: str | None, token: str | None, database_url: str | None) -> None:
    """Lineage, schema history, PII tags and loads of the streamproc catalog."""
    try:
        ctx.obj = _Ctx(load_settings(url=url, token=token, database_url=database_url))
    except ValidationError as exc:  # bad environment values
        raise CatalogCommandError(f"invalid settings: {_settings_errors(exc)}") from exc
    except ValueError as exc:  # pydantic-settings' own (e.g. a JSON setting that is not JSON)
        raise CatalogCommandError(f"invalid settings: {exc}") from exc


def _settings_errors(exc: ValidationError) -> str:
    """Each bad setting named as its environment variable, with pydantic's reason and, unless it may hold a secret,
    the value given (not pydantic's whole report, with its URL per error)."""
    told = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        name = f"CATALOG_{loc[0].upper()}" + "".join(f"[{p}]" for p in loc[1:])
        secret = loc[0] in ("api_token", "token", "lake_storage_options", "database_url", "url")
        told.append(f"{name}: {error['msg']}" + ("" if secret else f" (got {error['input']!r})"))
    return "; ".join(told)


@catalog.command()
@click.option("--host", default=None, help="Listen address [env CATALOG_HOST, default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env CATALOG_PORT, default 5000].")
@click.option("--no-auth", is_flag=True, help="Serve without an API token (local use only).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, no_auth: bool) -> None:
    """Run the catalog: the web UI at / and the HTTP API (uvicorn); migrates the database first.

    \b
    Examples:
      CATALOG_API_TOKEN=secret streamproc catalog serve --port 5000
      streamproc catalog serve --no-auth    # local use only
    """
    import uvicorn

    from catalog.app import create_app

    base = ctx.find_object(_Ctx).settings
    settings = base.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        | ({"auth_disabled": True} if no_auth else {})
    )
    try:
        app = create_app(settings)
    except CatalogError as exc:
        raise CatalogCommandError(str(exc)) from exc
    sock = _listen(settings.host, settings.port)
    port = sock.getsockname()[1]  # the one chosen, for --port 0
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    login = "" if settings.auth_disabled else " (log in with CATALOG_API_TOKEN)"
    click.echo(f"catalog UI at http://{shown}:{port}/{login}; API docs at /docs", err=True)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=port, log_level="info"))
    server.run(sockets=[sock])
    if not server.started:
        raise CatalogCommandError("the catalog server did not start (its log above says why)")


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, for uvicorn to serve on (bound here, so that a taken port is an ``error:``
    with exit status 1, not uvicorn's log line and its exit status 3, which ``streamproc`` uses for a ``freeze``
    stop).

    Raises:
        CatalogCommandError: the address cannot be bound (taken, not this machine's, not a host name).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CatalogCommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: not a port another listens on
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CatalogCommandError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another with --port (CATALOG_PORT) or "
            "--host (CATALOG_HOST)"
        ) from exc
    return sock


@catalog.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Run the Alembic migrations up to head."""
    from catalog.storage.db import Database

    settings = ctx.find_object(_Ctx).settings
    try:
        database = Database(settings.database_url)
        database.upgrade()
        click.echo(f"database at revision {database.current_revision()} ({database.dialect})")
        database.close()
    except CatalogError as exc:
        raise CatalogCommandError(str(exc)) from exc


@catalog.command()
@click.argument("dataset")
@click.option("--depth", type=click.IntRange(0, 100), default=5, show_default=True, help="Jobs to cross.")
@click.option("--direction", type=click.Choice(["up", "down", "both"]), default="both", show_default=True)
@_json_option
@click.pass_context
def lineage(ctx: click.Context, dataset: str, depth: int, direction: str, as_json: bool) -> None:
    """Lineage graph of DATASET (name, symlink, table:name, topic:name, ns:name, or job:ns:name).

    \b
    Examples:
      streamproc catalog lineage orders --direction up --depth 1
      streamproc catalog lineage topic:orders --json
    """
    _answer(ctx, "lineage", as_json, dataset=dataset, depth=depth, direction=direction)


@catalog.command("column-lineage")
@click.argument("dataset")
@click.argument("field")
@click.option("--direction", type=click.Choice(["up", "down", "both"]), default="up", show_default=True)
@_json_option
@click.pass_context
def column_lineage(ctx: click.Context, dataset: str, field: str, direction: str, as_json: bool) -> None:
    """Where FIELD of DATASET comes from (or goes to).

    \b
    Example:
      streamproc catalog column-lineage orders currency
    """
    _answer(ctx, "column-lineage", as_json, dataset=dataset, field=field, direction=direction)


@catalog.command("schema-history")
@click.argument("dataset")
@_json_option
@click.pass_context
def schema_history(ctx: click.Context, dataset: str, as_json: bool) -> None:
    """Each schema version of DATASET with time, contract version and diff (breaking or not).

    \b
    Example:
      streamproc catalog schema-history orders
    """
    _answer(ctx, "schema-history", as_json, dataset=dataset)


@catalog.command()
@click.option("--tag", default=None, help="Only this tag (matches name, key or value, e.g. email).")
@_json_option
@click.pass_context
def pii(ctx: click.Context, tag: str | None, as_json: bool) -> None:
    """Which datasets and columns carry which PII tags.

    \b
    Example:
      streamproc catalog pii --tag email
    """
    _answer(ctx, "pii", as_json, tag=tag)


@catalog.command()
@click.argument("dataset", required=False)
@click.option(
    "--topic",
    default=None,
    help="With --partition and --offset: the loads that read that offset (landed or quarantined it).",
)
@click.option("--partition", type=click.IntRange(min=0), default=None)
@click.option("--offset", type=click.IntRange(min=0), default=None)
@_json_option
@click.pass_context
def loads(
    ctx: click.Context, dataset: str | None, topic: str | None, partition: int | None, offset: int | None, as_json: bool
) -> None:
    """Loads of DATASET (Delta version, offsets, contract), or the loads that read --topic/--partition/--offset.

    \b
    Examples:
      streamproc catalog loads orders
      streamproc catalog loads --topic orders --partition 0 --offset 1234
    """
    reverse = (topic, partition, offset)
    if any(x is not None for x in reverse):
        if any(x is None for x in reverse) or dataset is not None:
            raise click.UsageError("give DATASET, or all of --topic, --partition and --offset")
        _answer(ctx, "loads", as_json, topic=topic, partition=partition, offset=offset)
    elif dataset is None:
        raise click.UsageError("give DATASET, or all of --topic, --partition and --offset")
    else:
        _answer(ctx, "loads", as_json, dataset=dataset)


@catalog.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@_json_option
@click.pass_context
def search(ctx: click.Context, name: str, limit: int, as_json: bool) -> None:
    """Datasets and jobs whose name (or symlink name) contains NAME.

    \b
    Example:
      streamproc catalog search ord
    """
    _answer(ctx, "search", as_json, q=name, limit=limit)


def main() -> None:
    """Entry point for ``python -m catalog.cli``."""
    catalog()


if __name__ == "__main__":
    main()
