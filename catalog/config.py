"""Catalog settings: one frozen object, built once from the environment (``CATALOG_*``) and passed into constructors.

Only this module reads the environment. Secrets are ``SecretStr`` and masked in dumps and reprs.

Environment variables (all optional):

=============================== ======================================================================
``CATALOG_DATABASE_URL``         SQLAlchemy URL; default ``sqlite:///var/catalog/catalog.db`` (embedded).
                                 PostgreSQL: ``postgresql+psycopg://user:password@host:5432/db``.
``CATALOG_API_TOKEN``            the server's API token; required unless auth is disabled.
``CATALOG_AUTH_DISABLED``        ``1`` turns auth off (local use only).
``CATALOG_HOST`` / ``_PORT``     where ``catalog serve`` listens; default ``127.0.0.1:5000``.
``CATALOG_OPENLINEAGE_SCHEMA``   path to a copy of the official ``OpenLineage.json`` you provide (none ships with
                                 streamproc); when set, every event is also validated against it with
                                 ``jsonschema`` (see ``catalog.models``).
``CATALOG_LAKE_STORAGE_OPTIONS`` JSON object of delta-rs storage options for reading quarantine tables in object
                                 stores (the UI's quarantine view); local paths need none.
``CATALOG_URL``                  CLI only: query a remote catalog at this base URL instead of the local DB.
``CATALOG_TOKEN``                CLI only: token sent to ``CATALOG_URL`` (falls back to ``CATALOG_API_TOKEN``).
=============================== ======================================================================
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog.errors import ConfigError

__all__ = ["DEFAULT_DATABASE_URL", "CatalogSettings", "load_settings"]

DEFAULT_DATABASE_URL = "sqlite:///var/catalog/catalog.db"


class CatalogSettings(BaseSettings):
    """Frozen settings of the catalog server and CLI; see the module docstring for the environment variables."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", frozen=True, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    api_token: SecretStr | None = None
    auth_disabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5000
    openlineage_schema: Path | None = None
    lake_storage_options: dict[str, str] = {}
    url: str | None = None
    token: SecretStr | None = None

    def check_server(self) -> None:
        """Refuse to serve without a token unless auth was explicitly disabled.

        Raises:
            ConfigError: auth is on and ``CATALOG_API_TOKEN`` is unset or empty; or the OpenLineage schema path
                does not exist.
        """
        if not self.auth_disabled and (self.api_token is None or not self.api_token.get_secret_value()):
            raise ConfigError(
                "CATALOG_API_TOKEN is required; set it, or disable auth explicitly for local use "
                "(CATALOG_AUTH_DISABLED=1 or `catalog serve --no-auth`)"
            )
        if self.openlineage_schema is not None and not self.openlineage_schema.is_file():
            raise ConfigError(f"CATALOG_OPENLINEAGE_SCHEMA={self.openlineage_schema} is not a file")

    def client_token(self) -> str | None:
        """The token the CLI sends to a remote catalog: ``CATALOG_TOKEN``, else ``CATALOG_API_TOKEN``."""
        for secret in (self.token, self.api_token):
            if secret is not None and secret.get_secret_value():
                return secret.get_secret_value()
        return None


def load_settings(**overrides: object) -> CatalogSettings:
    """Build the settings from the environment, with explicit ``overrides`` (e.g. CLI flags) taking precedence.

    ``None`` overrides are ignored, so CLI options left unset fall back to the environment.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    return CatalogSettings(**given)  # type: ignore[arg-type]
