"""The serving plane's one FastAPI application: public citizen pages, staff pages and API, auth, static files.

:func:`create_app` builds it on a database URL (so tests and the bench run one app per database); the
engine lives on ``app.state.engine`` for :func:`dtsen.api.deps.db_session`. The interactive API pages
(Swagger, ReDoc) are off because they load scripts from a CDN; the schema itself is at
``/api/openapi.json``. ``/healthz`` touches nothing, which makes it the bench's no-op baseline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtsen import __version__
from dtsen.api import errors
from dtsen.auth.permissions import api_routes
from dtsen.auth.policy import SESSION_COOKIE
from dtsen.config import Settings, get_settings
from dtsen.store.db import make_engine, make_tally_engine
from dtsen.web import i18n
from dtsen.web.templating import STATIC_DIR

# Largest request body accepted (uploads included); a route may enforce less (per-file limits).
MAX_BODY_BYTES = 20 * 1024 * 1024
OPENAPI_URL = "/api/openapi.json"

# No inline script or style anywhere (charts are server-side SVG), so the policy can forbid both.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
STATIC_CACHE = b"public, max-age=86400"


class BodyTooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413)


class WebShellMiddleware:
    """Security headers on every response, ``Cache-Control: no-store`` on everything but static files
    (pages carry personal data and village offices share computers), the ``?lang=`` choice remembered in
    a cookie, and a cap on request bodies. Pure ASGI, so the no-op baseline stays cheap."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        static = path.startswith("/static/")
        https = scope.get("scheme") == "https"
        lang_cookie = _lang_cookie(scope, secure=https)

        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            receive = _refusing_receive
        else:
            receive = _counting_receive(receive, self.max_body_bytes)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in SECURITY_HEADERS if item[0] not in present)
                if https and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                if b"cache-control" not in present:
                    # Static files are versioned by ?v=<app version> in every link; pages are never stored.
                    headers.append((b"cache-control", STATIC_CACHE if static else b"no-store"))
                if lang_cookie:
                    headers.append((b"set-cookie", lang_cookie))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refusing_receive() -> Message:
    raise BodyTooLarge


def _counting_receive(receive: Receive, limit: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return counted


def _lang_cookie(scope: Scope, *, secure: bool = False) -> bytes | None:
    query: bytes = scope.get("query_string", b"")
    if b"lang=" not in query:
        return None
    from urllib.parse import parse_qs

    values = parse_qs(query.decode("latin-1")).get(i18n.LANG_PARAM, [])
    lang = values[-1].strip().lower() if values else ""
    if lang not in i18n.LANGUAGES:
        return None
    cookie = f"{i18n.LANG_COOKIE}={lang}; Path=/; Max-Age={LANG_COOKIE_MAX_AGE}; SameSite=Lax"
    return (cookie + ("; Secure" if secure else "")).encode()


def _include_routers(app: FastAPI) -> None:
    # Imported here so `dtsen --help` never pays for the web stack.
    from dtsen.api import cases, dci, dci_events, musdes, public, staff
    from dtsen.auth import router as auth_router

    # The machine-to-machine DCI routes first: a request is matched against the routes in order, and
    # with them last each DCI search was tried against every page route before its own (~0.3 ms of CPU a
    # request; docs/benchmarks.md, DCI section). Their paths (/dci/...) overlap no other route.
    app.include_router(dci.router)
    app.include_router(dci_events.router)
    app.include_router(public.router)
    app.include_router(auth_router.router)
    app.include_router(staff.router)
    app.include_router(cases.router)
    app.include_router(musdes.router)
    from dtsen.api import kunjungan

    app.include_router(kunjungan.router)
    from dtsen.api import dashboards

    app.include_router(dashboards.router)
    from dtsen.api import sharing

    app.include_router(sharing.router)
    from dtsen.api import audit

    app.include_router(audit.router)


def create_app(
    database_url: str | None = None, *, settings: Settings | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """The application on ``database_url`` (default: the configured serving database)."""
    settings = settings or get_settings()
    url = database_url or settings.resolved_database_url
    engine = make_engine(url)
    tally_engine = make_tally_engine(url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # DCI async searches and callback pushes: only where the app serves for real (app_factory turns
        # it on); an app built by a test never runs it, so no test depends on its timing.
        delivery = None
        if getattr(_app.state, "dci_delivery", False):
            from dtsen.sharing.dci.background import start_delivery

            delivery = start_delivery(_app)
        try:
            yield
        finally:
            if delivery is not None:
                delivery.cancel()
            engine.dispose()
            tally_engine.dispose()

    app = FastAPI(
        title="DTSEN",
        version=__version__,
        description="Data Tunggal Sosial dan Ekonomi Nasional: layanan registri.",
        docs_url=None,
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.tally_engine = tally_engine  # rate-limit counters and spent challenges (autocommit)
    app.state.settings = settings
    app.state.database_url = url

    errors.install(app)
    from dtsen.auth import install as auth_install

    # Identity first: the CSRF middleware must sit inside the shell's body cap and headers.
    auth_install.install(app)
    app.add_middleware(WebShellMiddleware, max_body_bytes=max_body_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False, response_class=PlainTextResponse)
    def healthz() -> str:
        """Liveness only: no database, no template (the bench's no-op baseline)."""
        return "ok"

    _include_routers(app)
    if not any(getattr(route, "path", None) == "/" for route in api_routes(app)):

        @app.get("/", include_in_schema=False)
        def home(request: Request) -> RedirectResponse:
            """No landing page of its own: citizens start at Cek Status, signed-in staff at their home."""
            signed_in = SESSION_COOKIE in request.cookies
            return RedirectResponse("/staf" if signed_in else "/cek-status", status_code=303)

    return app


def app_factory() -> Any:
    """``uvicorn --factory dtsen.api.app:app_factory``: the app on the configured database, with the
    heap settled (each worker process calls this once)."""
    app = create_app()
    app.state.dci_delivery = bool(app.state.settings.dci_deliver_in_app)
    settle_heap()
    return app


def settle_heap() -> None:
    """Load what the first requests would load lazily, then move every object alive now out of the
    garbage collector's sight (``gc.freeze``).

    A server process holds a few hundred thousand long-lived objects (the web stack, Babel's locale
    data, the name rules and the modules behind them). A full collection walks all of them, and under
    load the server paused for 80-300 ms every few seconds doing so: the long tail of the Cek Status
    latency. Frozen objects are never collected, which is right for what lives as long as the process.
    """
    import gc

    from dtsen.store.person_names import normalize_name
    from dtsen.web.templating import templates

    normalize_name("Siti Aminah")  # compiles the name rules (and imports what they need)
    for name in templates.env.list_templates(filter_func=lambda name: name.endswith((".html", ".svg"))):
        templates.env.get_template(name)
    gc.collect()
    gc.freeze()
