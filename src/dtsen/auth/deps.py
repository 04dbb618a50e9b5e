"""The one place routers get identity from.

* :func:`current_principal`: who is asking: a staff user (``dtsen_session`` cookie), a machine client
  (``Authorization: Bearer <JWT>``) or :data:`~dtsen.auth.scope.PUBLIC`. Also put on
  ``request.state.principal`` for the templates.
* :func:`require_user`: a signed-in staff user; a browser without one is redirected to
  ``/masuk?next=...``, an API client gets 401.
* :func:`requires`: ``Depends(requires("family.read"))`` lets in users and clients whose role holds the
  permission in :data:`dtsen.auth.permissions.PERMISSIONS` (and, for a client, whose token has it as a
  scope) and returns the principal. The dependency carries ``.permission`` so
  :func:`dtsen.auth.permissions.permission_of` can read it off any route.
* :func:`csrf_token_for`: the CSRF token to put in a page's forms (see :mod:`dtsen.auth.csrf`).

Region limits are not decided here but by :func:`dtsen.auth.scope.apply_scope` on every query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from dtsen.api.deps import db_session
from dtsen.auth.csrf import csrf_token_for
from dtsen.auth.errors import AuthError, audit_detached
from dtsen.auth.permissions import check_permission, role_has
from dtsen.auth.policy import SESSION_COOKIE, clock_of, policy_of
from dtsen.auth.scope import PUBLIC, Principal, Role
from dtsen.auth.sessions import find_session, touch_session
from dtsen.auth.tokens import TokenError, signing_key_of, verify_token
from dtsen.store.identity import ApiClient
from dtsen.web.i18n import N_

__all__ = ["csrf_token_for", "current_principal", "require_authenticated", "require_user", "requires"]

BEARER_CHALLENGE = 'Bearer realm="dtsen"'
ClientLoader = Callable[[str], ApiClient | None]
CHANGE_PASSWORD_PATH = "/akun/sandi"  # noqa: S105 - a URL path, not a password


def audit_path(request: Request) -> str:
    """The request path for an audit entry: a path with a NIK-like number in it (however spelled) gets
    its digits masked, since the audit log refuses, and must never hold, a NIK."""
    path = request.url.path[:200]
    return re.sub(r"\d", "#", path) if sum(char.isdigit() for char in path) >= 16 else path


def _bearer(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def _invalid_token(
    request: Request, description: str, reason: str, client: ApiClient | None = None
) -> AuthError:
    # The client is named only once the signature proved the token is ours; before that "sub" is hearsay.
    actor = (
        {"actor": f"client:{client.client_id}", "actor_role": client.role}
        if client
        else {"actor": "anonymous"}
    )
    audit_detached(
        request,
        **actor,
        action="token_rejected",
        resource="api_token",
        detail={"reason": reason, "path": audit_path(request)},
        occurred_at=clock_of(request.app)(),
    )
    challenge = f'{BEARER_CHALLENGE}, error="invalid_token", error_description="{reason}"'
    return AuthError(401, "invalid_token", description, headers={"WWW-Authenticate": challenge})


def _client_row(db: Session, client_id: str) -> ApiClient | None:
    # Without its regions: a client's principal carries the regions its token names.
    return db.scalar(
        select(ApiClient).where(ApiClient.client_id == client_id).options(lazyload(ApiClient.regions))
    )


def _client_principal(
    request: Request, db: Session, token: str, load_client: ClientLoader | None = None
) -> Principal:
    now = clock_of(request.app)()
    if not token:
        raise _invalid_token(request, N_("Token akses kosong."), "empty")
    try:
        claims = verify_token(token, signing_key_of(request.app), now=now)
    except TokenError as exc:
        raise _invalid_token(request, exc.description, "invalid") from exc
    client = load_client(str(claims["sub"])) if load_client is not None else _client_row(db, claims["sub"])
    if client is None or not client.active or client.revoked_at is not None:
        raise _invalid_token(
            request, N_("Klien API ini sudah dicabut atau tidak dikenal."), "client_revoked", client
        )
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise _invalid_token(request, N_("Peran dalam token tidak dikenal."), "unknown_role") from exc
    regions = tuple(str(code) for code in claims.get("regions", []))
    return Principal(
        kind="client",
        name=client.client_id,
        role=role,
        regions=regions,
        scopes=frozenset(str(claims["scope"]).split()),
    )


def current_principal(request: Request, db: Session = Depends(db_session)) -> Principal:
    """Who is asking (see the module docstring); an invalid Bearer token is refused (401), never
    silently treated as the public."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = _bearer(request)
    if token is not None:
        principal = _client_principal(request, db, token)
    else:
        principal = PUBLIC
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            policy = policy_of(request.app)
            now = clock_of(request.app)()
            row = find_session(db, cookie, now=now, policy=policy)
            if row is not None:
                touch_session(row, now=now, policy=policy)
                request.state.auth_session = row
                request.state.auth_session_csrf = row.csrf_token
                request.state.user = row.user
                principal = Principal(
                    kind="user",
                    name=row.user.username,
                    role=Role(row.user.role),
                    regions=row.user.region_codes,
                )
    # Commit the session bookkeeping now and give the connection back: this dependency runs in a worker
    # thread of its own, and a request that kept its pooled connection while waiting for the next thread
    # (the route's) starved threads waiting for a connection: under load every worker stalled for the
    # pool's 30 s timeout (found by dtsen bench serve).
    db.commit()
    request.state.principal = principal
    return principal


def require_authenticated(request: Request, principal: Principal = Depends(current_principal)) -> Principal:
    """A staff user or a machine client; a browser without a session goes to the login page."""
    if principal.kind == "public":
        raise AuthError(
            401,
            "invalid_token",
            N_("Silakan masuk dengan akun petugas untuk membuka halaman ini."),
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
            redirect="login",
        )
    user = getattr(request.state, "user", None)
    if user is not None and user.must_change_password and request.url.path != CHANGE_PASSWORD_PATH:
        raise AuthError(
            403,
            "password_change_required",
            N_("Ganti kata sandi Anda terlebih dahulu."),
            redirect=CHANGE_PASSWORD_PATH,
        )
    return principal


def require_user(request: Request, principal: Principal = Depends(require_authenticated)) -> Principal:
    """A signed-in staff user (machine clients are refused with 403)."""
    if principal.kind != "user":
        raise AuthError(403, "insufficient_scope", N_("Halaman ini hanya untuk petugas yang masuk."))
    return principal


def requires(permission: str) -> Callable[..., Principal]:
    """A dependency admitting principals whose role holds ``permission`` (and, for clients, whose token
    carries it as a scope); refusals are 403 and audited. Unknown permission names fail at import."""
    check_permission(permission)

    def dependency(request: Request, principal: Principal = Depends(require_authenticated)) -> Principal:
        allowed = role_has(principal.role, permission)
        if allowed and principal.kind == "client" and permission not in principal.scopes:
            reason, error = "missing_scope", "insufficient_scope"
        elif not allowed:
            reason, error = "role_lacks_permission", "insufficient_scope"
        else:
            return principal
        audit_detached(
            request,
            **principal.audit_fields(),
            action="access_denied",
            resource="permission",
            detail={"permission": permission, "reason": reason, "path": audit_path(request)},
            occurred_at=clock_of(request.app)(),
        )
        challenge = f'{BEARER_CHALLENGE}, error="insufficient_scope", scope="{permission}"'
        headers = {"WWW-Authenticate": challenge} if principal.kind == "client" else None
        raise AuthError(403, error, N_("Anda tidak berwenang melakukan tindakan ini."), headers=headers)

    dependency.permission = permission  # type: ignore[attr-defined]
    dependency.__name__ = f"requires_{permission.replace('.', '_')}"
    return dependency


@cache
def _permission_check(permission: str) -> Callable[..., Principal]:
    return requires(permission)


def authorize_here(
    request: Request, db: Session, permission: str, *, load_client: ClientLoader | None = None
) -> Principal:
    """``Depends(requires(permission))`` decided inside a route, in its own worker thread and session: the
    same functions, refusals (401/403) and audit entries, without the three thread hops and the second
    connection checkout the dependency chain costs (measurable on the DCI endpoints; docs/benchmarks.md).

    ``load_client``: how to read the token's client (by client id) if the route wants more in the same
    query (the DCI routes read its key, grant and the served snapshot with it); the active and revoked
    checks are made on whatever row it returns."""
    token = _bearer(request)
    if token is None:
        principal = current_principal(request, db)  # a browser session: refused below or later
    else:
        principal = _client_principal(request, db, token, load_client)
        request.state.principal = principal
    return _permission_check(permission)(request, require_authenticated(request, principal))
