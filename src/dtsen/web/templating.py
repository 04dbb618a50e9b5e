"""The one way pages are rendered: Jinja2 templates from the package, autoescaped, translated per request.

Every page extends ``base.html`` and is rendered through :func:`render`, which adds what every page
needs: the request's language and the gettext functions (``_``, ``gettext``, ``ngettext``; Jinja's
``{% trans %}`` works too), the CSRF token of the session (from :mod:`dtsen.auth.deps` once it exists),
the signed-in principal (``request.state.principal``, set by the auth dependency), the app version and
the served snapshot reference when the handler or a cheap lookup provides it.

Translation strings use Jinja's new-style gettext: ``{{ _("Halo %(nama)s", nama=name) }}`` escapes
``nama`` and a literal percent sign must be written ``%%``. Macros that translate must be imported
``with context`` so they see the request's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.numbers import format_currency, format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from dtsen import __version__
from dtsen.web import i18n

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")
# Babel locales for formatting: Indonesian pages write 1.234.567 and "Rp 150.000".
BABEL_LOCALE = {"id": "id_ID", "en": "en_GB"}
JAKARTA = ZoneInfo("Asia/Jakarta")
INDONESIAN_ZONES = ("WIB", "WITA", "WIT")


def _lang(context: Mapping[str, Any]) -> str:
    lang = context.get("lang")
    return lang if isinstance(lang, str) and lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return i18n.gettext(_lang(context), message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(_lang(context), singular, plural, n)


@jinja2.pass_context
def _format_number(context: jinja2.runtime.Context, value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=BABEL_LOCALE[_lang(context)])


@jinja2.pass_context
def _format_rupiah(context: jinja2.runtime.Context, value: Any) -> str:
    if value is None or value == "":
        return "–"
    return format_currency(
        Decimal(str(value)),
        "IDR",
        format="¤ #,##0",
        locale=BABEL_LOCALE[_lang(context)],
        currency_digits=False,
    )


@jinja2.pass_context
def _format_date(context: jinja2.runtime.Context, value: Any, form: str = "medium") -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        # Times are stored in UTC and shown labelled, without seconds: in the region's own zone when the
        # page put them there (``lokal()``: WIB, WITA or WIT), else in Jakarta time.
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        label = value.tzname()
        local = value
        if label not in INDONESIAN_ZONES:
            local, label = value.astimezone(JAKARTA), "WIB"
        locale = BABEL_LOCALE[_lang(context)]
        day = babel_format_date(local, form, locale=locale)
        return f"{day} {babel_format_time(local, 'short', locale=locale)} {label}"
    return babel_format_date(value, form, locale=BABEL_LOCALE[_lang(context)])


def static_url(path: str) -> str:
    """A site-relative URL of a packaged static file (relative, so it works behind any proxy host)."""
    return f"/static/{path.lstrip('/')}"


def _relative(url: Any) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # Everything is escaped, .svg and text partials included; Markup is the only way out.
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["angka"] = _format_number
    env.filters["rupiah"] = _format_rupiah
    env.filters["tanggal"] = _format_date
    env.globals["app_version"] = __version__
    env.globals["languages"] = i18n.LANGUAGES
    env.globals["static_url"] = static_url
    env.globals["can"] = _can
    return env


def _can(principal: Any, permission: str) -> bool:
    """Whether the page's principal holds ``permission`` (menus show only what its reader may open)."""
    from dtsen.auth.permissions import role_has

    return principal is not None and role_has(getattr(principal, "role", None), permission)


templates = Jinja2Templates(env=_environment())


def csrf_token(request: Request) -> str | None:
    """The CSRF token for this page's forms (:func:`dtsen.auth.csrf.csrf_token_for`); None on an app
    without the CSRF middleware."""
    try:
        from dtsen.auth.deps import csrf_token_for
    except ImportError:
        return None
    try:
        return csrf_token_for(request)
    except (RuntimeError, KeyError):  # an app without the CSRF middleware (a bare test app)
        return None


def principal_of(request: Request) -> Any:
    """The signed-in principal the auth dependency put on the request, if any."""
    return getattr(request.state, "principal", None)


def translator(request: Request) -> Any:
    """``_`` for Python code answering a request (form messages, JSON errors) in its language."""
    lang = i18n.language_of(request)
    return lambda message: i18n.gettext(lang, message)


SNAPSHOT_REF_TTL_SECONDS = 30.0


def served_snapshot_ref(request: Request) -> str | None:
    """The served snapshot's reference for the footer: looked up at most every 30 s per app (a page
    may show the previous reference for that long after a switch), None when nothing is served or the
    database cannot say."""
    import time

    from sqlalchemy import text

    state = request.app.state
    cached = getattr(state, "snapshot_ref_cache", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < SNAPSHOT_REF_TTL_SECONDS:
        return cached[1]
    ref: str | None = None
    engine = getattr(state, "engine", None)
    if engine is not None:
        try:
            with engine.connect() as connection:
                ref = connection.execute(text("SELECT ref FROM served_snapshot WHERE is_current")).scalar()
        except Exception:  # no table yet (an unmigrated database): the footer just omits it
            ref = None
    state.snapshot_ref_cache = (now, ref)
    return ref


def common_context(request: Request) -> dict[str, Any]:
    lang = i18n.language_of(request)
    return {
        "request": request,
        "lang": lang,
        "csrf_token": csrf_token(request),
        "principal": principal_of(request),
        "snapshot_ref": getattr(request.state, "snapshot_ref", None) or served_snapshot_ref(request),
        "lang_urls": {
            code: _relative(request.url.include_query_params(lang=code)) for code in i18n.LANGUAGES
        },
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with the common context plus ``context`` (which wins on a clash)."""
    merged = common_context(request)
    if context:
        merged.update(context)
    return templates.TemplateResponse(request, template, merged, status_code=status_code, headers=headers)
