"""Database lifecycle: engine from a URL, Alembic migrations to head, sessions.

SQLite (the embedded default) gets WAL journaling, a 30 s busy timeout and enforced foreign keys; its file and parent
directory are created unless ``create=False`` (queries: a database that does not exist is an error, not a new empty
one). PostgreSQL is used through psycopg 3 (``postgresql+psycopg://``); a bare ``postgresql://`` URL is read
as psycopg too.

Lifecycle: ``Database(url)`` → ``upgrade()`` (idempotent) → ``session()`` any number of times → ``close()``; a closed
database refuses new sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.errors import ConfigError, MigrationError, MissingDatabaseError, StorageError

__all__ = ["MIGRATIONS_DIR", "Database", "alembic_config", "normalize_url"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Map ``postgresql://`` / ``postgres://`` to the psycopg 3 driver; other URLs are returned unchanged.

    Raises:
        ConfigError: the URL cannot be parsed or names another database than SQLite or PostgreSQL.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError / ValueError
        raise ConfigError(f"invalid CATALOG_DATABASE_URL {url!r}: {exc}") from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql+psycopg://"
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(connection: Any | None = None, *, url: str | None = None) -> Config:
    """An Alembic config pointing at ``catalog/storage/migrations`` (no ``alembic.ini`` needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class Database:
    """An engine plus a session factory for one catalog database."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        """Open the engine (no connection yet).

        Args:
            url: SQLAlchemy URL (see ``normalize_url``).
            create: make a missing SQLite file (and its folder); ``False`` for readers.

        Raises:
            ConfigError: the URL is invalid or names another database than SQLite or PostgreSQL.
            MissingDatabaseError: ``create=False`` and the SQLite file does not exist.
        """
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        kwargs: dict[str, Any] = {"future": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                if not create and not Path(parsed.database).is_file():
                    raise MissingDatabaseError(f"no catalog database at {parsed.database}")
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._closed = False

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (idempotent).

        Raises:
            MigrationError: a migration failed; the database is left at the last revision that succeeded.
        """
        try:
            with self.engine.begin() as connection:
                command.upgrade(alembic_config(connection), revision)
        except SQLAlchemyError as exc:
            raise MigrationError(f"migrating {self.engine.url!r} failed: {exc}") from exc

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at, or ``None`` before the first migration."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction, committed on success and rolled back on error.

        Raises:
            StorageError: the database failed (SQLAlchemy errors are translated); also when the database is closed.
        """
        if self._closed:
            raise StorageError("the database is closed")
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database error: {exc}") from exc
        finally:
            session.close()

    def close(self) -> None:
        """Dispose of the connection pool; later ``session()`` calls raise ``StorageError``."""
        self._closed = True
        self.engine.dispose()
