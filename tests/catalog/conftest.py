"""Fixtures for the catalog tests: a real PostgreSQL (started by ``deploy/postgres/pg.sh`` unless
``CATALOG_TEST_POSTGRES_URL`` is set), a fresh database per test parametrized over SQLite and PostgreSQL, and a real
uvicorn server on 127.0.0.1 running the catalog."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import uvicorn
from sqlalchemy import make_url

from catalog.app import create_app
from catalog.config import load_settings
from tests.fixtures.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
PG_SH = REPO / "deploy" / "postgres" / "pg.sh"
TOKEN = "test-token-5f0c"
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (``postgres``)."""
    given = os.environ.get("CATALOG_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    started = subprocess.run([str(PG_SH), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode != 0:
        pytest.fail(f"could not start PostgreSQL with {PG_SH}:\n{started.stderr}", pytrace=False)
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    try:
        yield values["CATALOG_TEST_POSTGRES_URL"]
    finally:
        subprocess.run([str(PG_SH), "stop", values["PGDATA_DIR"]], capture_output=True, timeout=120)


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _fresh_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{directory / 'catalog.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name = f"catalog_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(base), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_dsn(base), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with _fresh_database(request, tmp_path) as url:
        yield url


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    database_url: str


@contextmanager
def _serve(database_url: str) -> Iterator[Server]:
    """The catalog served by uvicorn on a loopback port, auth on with ``TOKEN``.

    The socket is bound here (port 0) and handed to uvicorn, so no other process can take the port in between.
    """
    settings = load_settings(database_url=database_url, api_token=TOKEN, auth_disabled=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="catalog-uvicorn", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise AssertionError("the catalog server's thread exited before it started")
        return uv.started

    try:
        wait_until(started, "the catalog server to start")
        yield Server(url=f"http://127.0.0.1:{port}", token=TOKEN, database_url=database_url)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    """A catalog server on a fresh database, for one test."""
    with _serve(database_url) as running:
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
def module_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A catalog server shared by the tests of one module (per backend); tests must not depend on its contents."""
    with _fresh_database(request, tmp_path_factory.mktemp("catalog")) as url, _serve(url) as running:
        yield running


@pytest.fixture(scope="module")
def loaded_server(module_server: Server) -> tuple[Server, str]:
    """``module_server`` after the scenario's events were posted; returns it and the run id."""
    from tests.catalog import scenario

    return module_server, scenario.emit_all(module_server.url, module_server.token)
