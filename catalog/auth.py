"""API-token auth: ``Authorization: Bearer <CATALOG_API_TOKEN>`` on every API read and write.

Off only when explicitly disabled (``CATALOG_AUTH_DISABLED=1`` / ``catalog serve --no-auth``). The token is compared
in constant time (``hmac.compare_digest``). ``/healthz``, ``/metrics`` and the OpenAPI pages are open.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from catalog.config import CatalogSettings
from catalog.errors import AuthError

__all__ = ["check_token", "require_token"]


def check_token(settings: CatalogSettings, authorization: str | None) -> None:
    """Accept the ``Authorization`` header value, or raise.

    Raises:
        AuthError: auth is on and the header is missing, not ``Bearer``, or carries another token.
    """
    if settings.auth_disabled:
        return
    expected = settings.api_token.get_secret_value() if settings.api_token is not None else ""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthError("missing API token: send `Authorization: Bearer <token>`")
    if not expected or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise AuthError("wrong API token")


def require_token(request: Request) -> None:
    """FastAPI dependency wrapping ``check_token`` with the app's settings."""
    check_token(request.app.state.settings, request.headers.get("authorization"))
