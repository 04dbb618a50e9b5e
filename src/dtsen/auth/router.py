"""Login, logout, "who am I", password change, the OAuth2 client-credentials token endpoint and the JWKS.

Pages are in Bahasa (English through the catalog) and render through :func:`dtsen.web.templating.render`;
every form is CSRF-checked by :class:`dtsen.auth.csrf.CSRFMiddleware` before it reaches a handler here.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dtsen.api.deps import db_session
from dtsen.auth.accounts import audit_username, authenticate, set_password
from dtsen.auth.clients import authenticate_client
from dtsen.auth.deps import CHANGE_PASSWORD_PATH, current_principal, require_user
from dtsen.auth.errors import oauth_error, safe_next
from dtsen.auth.passwords import PasswordPolicyError, verify_secret
from dtsen.auth.permissions import ROLE_LABELS
from dtsen.auth.policy import SESSION_COOKIE, AuthPolicy, clock_of, policy_of
from dtsen.auth.scope import NATIONAL_ROLES, Principal, Role
from dtsen.auth.sessions import create_session, revoke_session
from dtsen.auth.tokens import issue_token, jwks, signing_key_of
from dtsen.store import audit
from dtsen.store.identity import StaffUser
from dtsen.store.models import Region
from dtsen.web.i18n import N_

router = APIRouter(tags=["auth"])

DEFAULT_LANDING = "/staf"
# The audit names a session by the first 12 hex digits of its id: 16 would be all digits once in ~1,850
# logins, which the audit refuses as a NIK-shaped number (the login then failed with a server error).
SESSION_REF = 12
LOGIN_FAILED_STATUS = 400
GRANT_TYPE = "client_credentials"


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    from dtsen.web.templating import render

    return render(request, template, context, status_code=status_code)


def _over_limit(request: Request, bucket: str, hits: int, now: datetime) -> int | None:
    """Count one attempt of this client network in ``bucket`` (the public pages' database-backed
    sliding window, shared by every worker); the seconds to wait if it is over ``hits`` an hour."""
    from dtsen.api.ratelimit import Limit, RateLimitedError, client_network, hit, tally_engine

    try:
        hit(
            tally_engine(request),
            Limit(bucket, hits, 3600),
            client_network(request),
            now=now.timestamp(),
        )
    except RateLimitedError as exc:
        return exc.retry_after
    return None


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _secure(request: Request, policy: AuthPolicy) -> bool:
    return request.url.scheme == "https" or policy.cookie_secure


def _set_session_cookie(response: Response, request: Request, token: str) -> None:
    policy = policy_of(request.app)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(policy.session_absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request, policy),
    )


def _clear_session_cookie(response: Response, request: Request) -> None:
    policy = policy_of(request.app)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request, policy)
    )


# --- login / logout ------------------------------------------------------------------------------------


@router.get("/masuk", response_class=HTMLResponse, summary="Halaman masuk petugas")
def login_page(
    request: Request,
    next_url: str | None = Query(None, alias="next", max_length=500),
    keluar: str | None = Query(None, max_length=8),
    principal: Principal = Depends(current_principal),
) -> HTMLResponse:
    context = {
        "next": safe_next(next_url, DEFAULT_LANDING),
        "username": "",
        "failed": False,
        "signed_out": keluar is not None,
        "already": principal.name if principal.kind == "user" else None,
        "nav_current": "masuk",
    }
    return _render(request, "auth/masuk.html", context)


@router.post("/masuk", response_class=HTMLResponse, summary="Masuk petugas (nama pengguna + kata sandi)")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next_url: str = Form("", alias="next"),
    csrf_token: str = Form(""),  # checked by the CSRF middleware; declared so the form's schema shows it
    db: Session = Depends(db_session),
) -> Response:
    """The answer to a failed login is the same page with the same message whether the user is unknown,
    the password wrong, or the account locked or disabled; the audit log records which."""
    del csrf_token
    policy = policy_of(request.app)
    now = clock_of(request.app)()
    ip = _client_ip(request)
    target = safe_next(next_url, DEFAULT_LANDING)
    context = {
        "next": target,
        "username": username[:64],
        "failed": True,
        "signed_out": False,
        "already": None,
        "nav_current": "masuk",
    }
    retry_after = _over_limit(request, "masuk_ip", policy.login_attempts_per_network, now)
    if retry_after is not None:
        audit.record(
            db,
            actor="anonymous",
            action="login_failed",
            resource="staff_session",
            detail={"username": audit_username(username), "reason": "rate_limited", "ip": ip},
            occurred_at=now,
        )
        context.update(failed=False, limited_minutes=max(1, -(-retry_after // 60)))
        response = _render(request, "auth/masuk.html", context, status_code=429)
        response.headers["retry-after"] = str(retry_after)
        return response
    result = authenticate(db, username[:200], password[:1024], now=now, policy=policy, ip_address=ip)
    if result.user is None:
        return _render(request, "auth/masuk.html", context, status_code=LOGIN_FAILED_STATUS)

    user = result.user
    previous = revoke_session(db, request.cookies.get(SESSION_COOKIE))  # a new id on every login
    created = create_session(
        db, user, now=now, policy=policy, ip_address=ip, user_agent=request.headers.get("user-agent")
    )
    audit.record(
        db,
        actor=f"user:{user.username}",
        actor_role=user.role,
        action="login",
        resource="staff_session",
        detail={"session": created.row.id[:SESSION_REF], "ip": ip, "replaced_session": previous is not None},
        occurred_at=now,
    )
    if user.must_change_password:
        target = CHANGE_PASSWORD_PATH
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(response, request, created.token)
    return response


@router.post("/keluar", summary="Keluar (mengakhiri sesi)")
def logout(request: Request, db: Session = Depends(db_session)) -> Response:
    now = clock_of(request.app)()
    row = revoke_session(db, request.cookies.get(SESSION_COOKIE))
    if row is not None:
        audit.record(
            db,
            actor=f"user:{row.user.username}",
            actor_role=row.user.role,
            action="logout",
            resource="staff_session",
            detail={"session": row.id[:SESSION_REF]},
            occurred_at=now,
        )
    response = RedirectResponse("/masuk?keluar=1", status_code=303)
    _clear_session_cookie(response, request)
    return response


# --- my account ----------------------------------------------------------------------------------------


def _region_rows(db: Session, codes: tuple[str, ...]) -> list[dict[str, str]]:
    from dtsen.reference.regions import lookup

    rows = []
    for kode in codes:
        region = db.get(Region, kode)
        name = region.nama if region is not None else (getattr(lookup(kode), "nama", "") or "")
        rows.append({"kode": kode, "nama": name})
    return rows


@router.get("/akun", response_class=HTMLResponse, summary="Akun saya: peran dan wilayah")
def account_page(
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(db_session),
) -> HTMLResponse:
    from dtsen.web.i18n import gettext, language_of

    user: StaffUser = request.state.user
    role = Role(user.role)
    context = {
        "user": user,
        "role_label": gettext(language_of(request), ROLE_LABELS[role]),
        "national": role in NATIONAL_ROLES,
        "regions": _region_rows(db, principal.regions),
        "expires_at": request.state.auth_session.expires_at,
    }
    return _render(request, "auth/akun.html", context)


@router.get(CHANGE_PASSWORD_PATH, response_class=HTMLResponse, summary="Ganti kata sandi")
def password_page(request: Request, principal: Principal = Depends(require_user)) -> HTMLResponse:
    del principal
    user: StaffUser = request.state.user
    return _render(request, "auth/sandi.html", {"required": user.must_change_password})


@router.post(CHANGE_PASSWORD_PATH, response_class=HTMLResponse, summary="Simpan kata sandi baru")
def change_password(
    request: Request,
    current: str = Form(""),
    new: str = Form(""),
    repeat: str = Form(""),
    principal: Principal = Depends(require_user),
    db: Session = Depends(db_session),
) -> Response:
    """Checks the current password, then ends every session of the user (this one too): the next page
    asks for a login with the new password."""
    from dtsen.web.i18n import gettext, language_of

    lang = language_of(request)
    user: StaffUser = request.state.user
    error: str | None = None
    if not verify_secret(user.password_hash, current[:1024]):
        error = gettext(lang, N_("Kata sandi sekarang salah."))
    elif new != repeat:
        error = gettext(lang, N_("Kedua isian kata sandi baru tidak sama."))
    elif new == current:
        error = gettext(lang, N_("Kata sandi baru harus berbeda dari yang sekarang."))
    else:
        try:
            set_password(db, user, new, now=clock_of(request.app)(), actor=principal.audit_fields())
        except PasswordPolicyError as exc:
            error = gettext(lang, str(exc))
    if error is not None:
        context = {"required": user.must_change_password, "error": error}
        return _render(request, "auth/sandi.html", context, status_code=400)
    response = _render(request, "auth/sandi.html", {"done": True})
    _clear_session_cookie(response, request)
    return response


# --- machine clients -----------------------------------------------------------------------------------


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """``Authorization: Basic`` credentials, form-urlencoded inside as RFC 6749 section 2.3.1 says."""
    authorization = request.headers.get("authorization", "")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return ("", "")
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


@router.post("/auth/token", summary="OAuth2 client credentials: token akses JWT (ES256, 15 menit)")
def token(
    request: Request,
    grant_type: str = Form(""),
    client_id: str | None = Form(None),
    client_secret: str | None = Form(None),
    scope: str | None = Form(None),
    db: Session = Depends(db_session),
) -> Response:
    """RFC 6749 section 4.4: the client authenticates with HTTP Basic or form fields and gets a JWT
    carrying its role, regions and the granted scopes (all it holds unless it asks for fewer)."""
    now = clock_of(request.app)()
    basic = _basic_credentials(request)

    def refuse(
        status: int, error: str, description: str, reason: str, who: str | None = None
    ) -> JSONResponse:
        audit.record(
            db,
            actor="anonymous",
            action="token_refused",
            resource="api_token",
            detail={
                "reason": reason,
                "client_id": audit_username(who) if who else None,
                "ip": _client_ip(request),
            },
            occurred_at=now,
        )
        headers = {"WWW-Authenticate": 'Basic realm="dtsen"'} if status == 401 and basic is not None else None
        return oauth_error(status, error, description, headers)

    retry_after = _over_limit(request, "token_ip", policy_of(request.app).token_requests_per_network, now)
    if retry_after is not None:
        response = refuse(
            429, "rate_limited", "terlalu banyak permintaan token dari jaringan ini", "rate_limited"
        )
        response.headers["retry-after"] = str(retry_after)
        return response
    if basic is not None and (client_id or client_secret):
        return refuse(400, "invalid_request", "gunakan satu cara autentikasi klien saja", "two_methods")
    given_id, given_secret = basic if basic is not None else (client_id or "", client_secret or "")
    if not grant_type:
        return refuse(400, "invalid_request", "grant_type wajib diisi", "no_grant_type", given_id)
    if grant_type != GRANT_TYPE:
        return refuse(400, "unsupported_grant_type", "hanya client_credentials", "grant_type", given_id)
    if not given_id or not given_secret:
        return refuse(401, "invalid_client", "autentikasi klien gagal", "no_credentials", given_id)
    client, reason = authenticate_client(db, given_id[:64], given_secret)
    if client is None:
        return refuse(401, "invalid_client", "autentikasi klien gagal", reason, given_id)

    granted = client.scope_set
    requested = frozenset((scope or "").split()) or granted
    if not requested <= granted:
        extra = " ".join(sorted(requested - granted))[:200]
        return refuse(400, "invalid_scope", f"cakupan tidak diizinkan: {extra}", "scope", given_id)
    policy = policy_of(request.app)
    lifetime = int(policy.token_lifetime.total_seconds())
    access_token, claims = issue_token(
        signing_key_of(request.app),
        subject=client.client_id,
        role=client.role,
        scopes=requested,
        regions=client.region_codes,
        now=now,
        lifetime_seconds=lifetime,
    )
    audit.record(
        db,
        actor=f"client:{client.client_id}",
        actor_role=client.role,
        action="token_issued",
        resource="api_token",
        detail={"jti": claims["jti"], "scope": claims["scope"], "expires": claims["exp"]},
        occurred_at=now,
    )
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": claims["scope"],
    }
    return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})


@router.get("/.well-known/jwks.json", summary="Kunci publik penanda tangan token (JWKS)")
def jwks_document(request: Request) -> JSONResponse:
    """The public keys: the one that verifies every access token, and the Ed25519 key that signs our DCI
    envelopes (answers, callbacks, pushes). The private keys never leave the data dir."""
    from dtsen.sharing.dci.envelope import our_key

    document = jwks(signing_key_of(request.app))
    document["keys"].append(our_key(request.app).public_jwk())
    return JSONResponse(document, headers={"cache-control": "public, max-age=300"})
