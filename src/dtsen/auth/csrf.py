"""CSRF protection of every unsafe request (POST, PUT, PATCH, DELETE), in one middleware.

* **Signed in** (a ``dtsen_session`` cookie): the session's token must come back in the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header. It is derived from the session cookie
  (:func:`session_token_csrf`: a hash another site cannot compute without the HttpOnly cookie) and
  stored with the session, so the check needs no database: a middleware that waited for a pooled
  connection while requests holding the pool waited for its thread deadlocked a worker under load.
  Whether the session is still alive is the route's business (:mod:`dtsen.auth.deps`).
* **Anonymous** (the login form, the public citizen forms): a signed double-submit token. A page that
  renders a form token gives the visitor an HttpOnly ``dtsen_csrf`` cookie holding
  ``nonce.HMAC(secret_key, nonce)`` (kept while it verifies); the same value must come back in the
  form. Another site can make a browser post to us, but it cannot read or set our cookie, and without
  the secret it cannot forge a value that verifies.
* **Machine clients** (``Authorization: Bearer``) send no cookies a browser could attach, so they are not
  checked; neither is the token endpoint, which authenticates the client itself.

Being middleware, the check runs before any route, so no form can forget it. Pages get the token from
:func:`csrf_token_for` (the templating helper puts it in every template as ``csrf_token``); a refused
request answers 403 with a Bahasa page (JSON for API clients), never a stack trace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtsen.auth.policy import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    policy_of,
)
from dtsen.config import get_settings
from dtsen.web.i18n import N_

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PATHS = frozenset({"/auth/token"})
CSRF_CONTEXT = b"dtsen/csrf/anonymous/v1\x00"
MESSAGE = N_("Formulir kedaluwarsa atau tidak sah, silakan muat ulang halaman.")
_STATE_ANONYMOUS = "csrf_anonymous"
_STATE_INSTALLED = "csrf_installed"
_STATE_ISSUED = "csrf_issued"


def secret_of(app: Any) -> bytes:
    """The app's signing secret (``app.state.secret_key``), else the configured one."""
    value = getattr(app.state, "secret_key", None) or get_settings().resolved_secret_key()
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _signature(secret: bytes, nonce: str) -> str:
    digest = hmac.new(secret, CSRF_CONTEXT + nonce.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_anonymous_token(secret: bytes) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_signature(secret, nonce)}"


def anonymous_token_is_valid(token: str | None, secret: bytes) -> bool:
    if not token or len(token) > 200 or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    try:
        nonce.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(signature, _signature(secret, nonce))


SESSION_CSRF_CONTEXT = b"dtsen/csrf/session/v1\x00"


def session_token_csrf(session_token: str) -> str:
    """The CSRF token of the session whose cookie holds ``session_token``. Not the session id (that is a
    hash in another context), so the database rows do not give it away."""
    digest = hashlib.sha256(SESSION_CSRF_CONTEXT + session_token.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_token_for(request: Request) -> str:
    """The token a page served for ``request`` must put in its forms (``<input type="hidden"
    name="csrf_token" value="{{ csrf_token }}">``) or send as ``X-CSRF-Token``: the session's token when
    signed in, else the visitor's signed anonymous token. Needs :class:`CSRFMiddleware` installed.

    No database is read: the session's token is derived from its cookie."""
    state = request.scope.get("state") or {}
    if not state.get(_STATE_INSTALLED):
        raise RuntimeError("CSRFMiddleware is not installed on this app (call dtsen.auth.install(app))")
    # Set by current_principal (a plain string: the row may be expired by a rollback before an error page).
    live = getattr(request.state, "auth_session_csrf", None)
    if live is not None:
        return str(live)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return session_token_csrf(token)
    if not state[_STATE_ANONYMOUS]:
        state[_STATE_ANONYMOUS] = state[_STATE_ISSUED] = new_anonymous_token(secret_of(request.app))
    return str(state[_STATE_ANONYMOUS])


def _cookie_header(request: Request, app: Any, value: str) -> bytes:
    response = Response()
    secure = request.url.scheme == "https" or policy_of(app).cookie_secure
    response.set_cookie(CSRF_COOKIE, value, path="/", httponly=True, samesite="lax", secure=secure)
    return response.headers["set-cookie"].encode("latin-1")


def _exempt(scope: Scope, request: Request) -> bool:
    if scope["method"] not in UNSAFE_METHODS:
        return True
    if scope.get("path", "") in EXEMPT_PATHS:
        return True
    authorization = request.headers.get("authorization", "")
    return authorization[:7].lower() == "bearer "


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _submitted_token(scope: Scope, request: Request, body: bytes) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    form: FormData | None = None
    try:
        form = await Request(scope, _replay(body)).form(max_files=100, max_fields=1000)
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    except Exception:  # a malformed body: no token could be read; the route will say what is wrong
        return None
    finally:
        if form is not None:
            await form.close()


def refusal(request: Request, status: int = 403, detail: str | None = MESSAGE) -> Response:
    """The answer to a refused form: the shared error page (JSON for API clients), in Bahasa."""
    from dtsen.api.errors import error_response

    return error_response(request, status, detail)


class CSRFMiddleware:
    """Issues the anonymous token cookie and refuses unsafe requests without the right token (pure ASGI,
    no database: a request pays for an HMAC and a hash)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        request = Request(scope)
        presented = request.cookies.get(CSRF_COOKIE)
        anonymous_valid = presented is not None and anonymous_token_is_valid(presented, secret_of(app))
        state = scope.setdefault("state", {})
        state[_STATE_INSTALLED] = True
        state[_STATE_ANONYMOUS] = presented if anonymous_valid else None

        async def send_with_cookie(message: Message) -> None:
            # A token first handed out while answering this request (csrf_token_for) goes out as the
            # cookie; static files, the health check and JSON answers never make one.
            issued = state.get(_STATE_ISSUED)
            if issued and message["type"] == "http.response.start":
                cookie = _cookie_header(request, app, issued)
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        if not _exempt(scope, request):
            session_token = request.cookies.get(SESSION_COOKIE)
            session_csrf = session_token_csrf(session_token) if session_token else None
            try:
                body = await _read_body(receive)
            except StarletteHTTPException as exc:  # the body cap of the web shell (413)
                await refusal(request, exc.status_code, None)(scope, receive, send_with_cookie)
                return
            receive = _replay(body)
            submitted = await _submitted_token(scope, request, body)
            # with a session cookie only the session's token counts (a tossed anonymous cookie could not
            # forge a signed-in post); pages render the session token whenever the cookie is there
            expected = session_csrf or (presented if anonymous_valid else None)
            if (
                not submitted
                or not expected
                or not hmac.compare_digest(submitted.encode(), expected.encode())
            ):
                await refusal(request)(scope, receive, send_with_cookie)
                return

        await self.app(scope, receive, send_with_cookie)
