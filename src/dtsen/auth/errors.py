"""How identity failures are answered: OAuth2-shaped JSON for API clients, a Bahasa page or a redirect
to the login page for browsers; and audit entries that survive the request's rollback."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dtsen.logs import get_logger
from dtsen.store import audit
from dtsen.web import i18n

log = get_logger(__name__)

LOGIN_PATH = "/masuk"


class AuthError(StarletteHTTPException):
    """Refused for identity reasons. ``error`` is the OAuth2 code (invalid_token, insufficient_scope,
    invalid_client ...), ``description`` a Bahasa msgid; ``login_redirect`` sends a browser to log in."""

    def __init__(
        self,
        status_code: int,
        error: str,
        description: str,
        *,
        headers: dict[str, str] | None = None,
        redirect: str | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=description, headers=headers)
        self.error = error
        self.description = description
        self.redirect = redirect


def is_api_request(request: Request) -> bool:
    """A machine client (Bearer token) or a request the shared error handling answers in JSON."""
    from dtsen.api.errors import wants_json

    authorization = request.headers.get("authorization", "")
    return authorization[:7].lower() == "bearer " or wants_json(request)


def safe_next(value: str | None, default: str) -> str:
    """A post-login target on this site only (never ``//evil.example`` or ``https://...``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return default
    if any(ord(char) < 32 for char in value):
        return default
    return value


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?next={quote(target, safe='/')}"


def oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """RFC 6749 / 6750 error body (plus ``status`` and ``detail`` as every JSON error of the app has)."""
    body = {"error": error, "error_description": description, "status": status, "detail": description}
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store", **(headers or {})})


async def auth_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    if exc.redirect and not is_api_request(request):
        target = login_url(request) if exc.redirect == "login" else exc.redirect
        return RedirectResponse(target, status_code=303)
    lang = i18n.language_of(request)
    description = i18n.gettext(lang, exc.description)
    if is_api_request(request):
        return oauth_error(exc.status_code, exc.error, description, dict(exc.headers or {}))
    from dtsen.api.errors import error_response

    return error_response(request, exc.status_code, exc.description)


def audit_detached(request: Request, **fields: Any) -> None:
    """Record an audit entry in its own transaction: the request's own unit of work is rolled back when
    the refusal is raised, and a refused token or permission must still leave its trace."""
    from dtsen.store.db import session_factory

    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return
    try:
        with session_factory(engine)() as db:
            audit.record(db, **fields)
            db.commit()
    except Exception as exc:  # the refusal itself must still be answered
        log.error("audit of a refusal failed", error=type(exc).__name__, action=fields.get("action"))
