"""The UI's login: the API token asked once, kept as a signed session cookie.

``POST /login`` (a form: ``token``, ``next``) checks the token as the API does (``catalog.auth.check_token``) and
sets ``catalog_session``: a value signed with the token itself (itsdangerous' ``URLSafeTimedSerializer``), valid for
12 hours, HttpOnly and SameSite=Strict. The token never travels in a URL and is never logged; changing
``CATALOG_API_TOKEN`` ends every session. ``POST /logout`` drops the cookie. With auth off (``--no-auth``) pages are
open and ``/login`` leads home.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from catalog.auth import check_token
from catalog.config import CatalogSettings
from catalog.errors import AuthError
from catalog.ui.render import page

__all__ = ["COOKIE", "LoginRequired", "require_session", "router"]

COOKIE = "catalog_session"
MAX_AGE_SECONDS = 12 * 3600
_SALT = "streamproc-catalog-ui-session"

router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """A page was asked for without a valid session; answered by a redirect to ``/login``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _signer(settings: CatalogSettings) -> URLSafeTimedSerializer:
    token = settings.api_token.get_secret_value() if settings.api_token is not None else ""
    return URLSafeTimedSerializer(token, salt=_SALT)


def has_session(request: Request) -> bool:
    """Whether the request may see pages: auth is off, or its session cookie is signed with today's token."""
    settings: CatalogSettings = request.app.state.settings
    if settings.auth_disabled:
        return True
    value = request.cookies.get(COOKIE)
    if not value:
        return False
    try:
        return _signer(settings).loads(value, max_age=MAX_AGE_SECONDS) == "ui"
    except BadSignature:
        return False


def require_session(request: Request) -> None:
    """Dependency of the pages.

    Raises:
        LoginRequired: no valid session (the app redirects to ``/login?next=<this page>``).
    """
    if not has_session(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)


def require_session_json(request: Request) -> None:
    """Dependency of the pages' JSON data.

    Raises:
        AuthError: no valid session (HTTP 401).
    """
    if not has_session(request):
        raise AuthError("log in at /login first")


def _safe_next(next_url: str | None) -> str:
    return next_url if next_url and next_url.startswith("/") and not next_url.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    if request.app.state.settings.auth_disabled:
        return RedirectResponse(_safe_next(next), status_code=303)
    return page(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    settings: CatalogSettings = request.app.state.settings
    if settings.auth_disabled:
        return RedirectResponse(_safe_next(next), status_code=303)
    try:
        check_token(settings, f"Bearer {token}")
    except AuthError as exc:
        return page(request, "login.html", status_code=401, next=_safe_next(next), error=str(exc))
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        _signer(settings).dumps("ui"),
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
