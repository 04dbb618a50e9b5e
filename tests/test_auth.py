"""Identity and access: passwords, login and lock-out, sessions, CSRF, machine-client JWTs, permissions.

A small app holds the auth router, the shared error handling and a few routes that exist only here; the
clock is injected (``app.state.clock``), so expiry is tested by moving time, never by sleeping. Every
test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI, Form
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtsen.api import errors as api_errors
from dtsen.auth import passwords
from dtsen.auth.accounts import AccountError, create_user, get_user
from dtsen.auth.clients import create_client
from dtsen.auth.deps import current_principal, require_user, requires
from dtsen.auth.install import install
from dtsen.auth.passwords import PasswordPolicyError, check_password_policy, hash_secret, needs_rehash
from dtsen.auth.permissions import PERMISSIONS, api_routes, permission_of, requires_login, role_has
from dtsen.auth.policy import AuthPolicy
from dtsen.auth.router import router
from dtsen.auth.scope import Principal, Role
from dtsen.auth.sessions import session_id
from dtsen.auth.tokens import AUDIENCE, ISSUER, SigningKey, issue_token, verify_token
from dtsen.store.db import session_scope
from dtsen.store.identity import StaffSession, StaffUser
from dtsen.store.models import AuditLog

PASSWORD = "kopi-tubruk-pagi-hari"  # noqa: S105 - a test account's password
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PRODUCTION_HASHER = passwords.hasher  # before the fixture below swaps it for a cheap one
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ADMIN = {"actor": "cli:test", "actor_role": "admin_bps"}


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its production cost takes ~0.2 s a hash on a busy CI core; these tests hash and verify
    hundreds of times, so they use the same algorithm at a low cost (the production parameters are
    checked in test_production_hash_parameters)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: cheap.hash("dummy"))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _reset_clock(clock: Clock) -> None:
    clock.now = START


@pytest.fixture(scope="module")
def app(engine: Engine, clock: Clock) -> FastAPI:
    app = FastAPI()
    app.state.engine = engine
    app.state.clock = clock
    app.state.secret_key = "test-secret-key-not-for-production"  # noqa: S105
    app.state.signing_key = SigningKey.generate()
    app.state.auth_policy = AuthPolicy(login_attempts_per_network=10_000, token_requests_per_network=10_000)
    api_errors.install(app)
    install(app)
    app.include_router(router)

    @app.get("/uji/siapa")
    def who(principal: Principal = Depends(current_principal)) -> dict[str, Any]:
        return {"kind": principal.kind, "name": principal.name, "regions": list(principal.regions)}

    @app.get("/uji/keluarga")
    def family(principal: Principal = Depends(requires("family.read"))) -> dict[str, str]:
        return {"ok": principal.name}

    @app.get("/api/uji/keluarga")
    def api_family(principal: Principal = Depends(requires("family.read"))) -> dict[str, str]:
        return {"ok": principal.name}

    @app.get("/api/uji/orang/{nik}")
    def api_person(nik: str, principal: Principal = Depends(requires("person.search"))) -> dict[str, str]:
        return {"ok": principal.name}

    @app.get("/api/uji/audit")
    def api_audit(principal: Principal = Depends(requires("audit.read"))) -> dict[str, str]:
        return {"ok": principal.name}

    @app.post("/uji/catat")
    def write(catatan: str = Form(...), principal: Principal = Depends(require_user)) -> dict[str, str]:
        return {"ok": catatan, "by": principal.name}

    @app.post("/uji/publik")
    def public_form(nama: str = Form(...)) -> dict[str, str]:
        return {"ok": nama}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


_counter = iter(range(1_000_000))


def _user(
    engine: Engine, role: str = "operator_desa", regions: tuple[str, ...] = ("3471011001",), **kw: Any
) -> str:
    username = f"u{next(_counter)}-{role.replace('_', '')}"[:40]
    with session_scope(engine=engine) as db:
        create_user(
            db,
            username=username,
            full_name="Petugas Uji",
            role=role,
            regions=regions,
            password=PASSWORD,
            now=START,
            actor=ADMIN,
            **kw,
        )
    return username


def _token(client: TestClient, path: str = "/masuk") -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


def _login(client: TestClient, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return client.post(
        "/masuk",
        data={"username": username, "password": password, "csrf_token": _token(client), **extra},
        follow_redirects=False,
    )


def _audit(engine: Engine, action: str, actor: str | None = None) -> list[AuditLog]:
    with Session(engine) as db:
        statement = select(AuditLog).where(AuditLog.action == action)
        if actor is not None:
            statement = statement.where(AuditLog.actor == actor)
        return list(db.scalars(statement.order_by(AuditLog.id)))


# --- passwords ------------------------------------------------------------------------------------------


def test_password_hash_is_argon2id_and_old_parameters_are_rehashed_on_login(
    engine: Engine, client: TestClient
) -> None:
    stored = hash_secret(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert passwords.verify_secret(stored, PASSWORD)
    assert not passwords.verify_secret(stored, PASSWORD + "x")
    assert not passwords.verify_secret("not a hash", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weak)
    assert not needs_rehash(stored)

    username = _user(engine)
    with session_scope(engine=engine) as db:
        user = get_user(db, username)
        assert user is not None
        user.password_hash = weak
    assert _login(client, username).status_code == 303
    with Session(engine) as db:
        user = get_user(db, username)
        assert user is not None
        assert user.password_hash != weak
        assert not needs_rehash(user.password_hash)


def test_production_hash_parameters() -> None:
    stored = PRODUCTION_HASHER().hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106 low-memory profile
    assert PRODUCTION_HASHER().verify(stored, PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("pendek", "minimal 12"),
        ("a" * 20, "satu karakter"),
        ("xx-budi.santoso-xx", "nama pengguna"),
        ("x" * 2000 + "y", "maksimal"),
    ],
)
def test_password_policy_refuses(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message):
        check_password_policy(password, username="budi.santoso")
    check_password_policy("ibu-kota-nusantara-2045", username="budi.santoso")


def test_accounts_refuse_bad_roles_regions_and_usernames(engine: Engine) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"role": "lurah"}, "unknown role"),
        ({"role": "dinsos", "regions": ("3471011001",)}, "kabupaten/kota"),
        ({"role": "operator_desa", "regions": ("3471011001", "3471011002")}, "exactly one"),
        ({"role": "pendamping", "regions": ()}, "at least one"),
        ({"role": "auditor", "regions": ("34",)}, "national"),
        ({"role": "operator_desa", "regions": ("9999999999",)}, "does not exist"),
        ({"role": "operator_desa", "regions": ("34.71.01.xx",)}, "not a region code"),
        ({"username": "Budi Santoso"}, "lowercase"),
        ({"username": "3471011203850001"}, "at most 8 digits"),
    ]
    for overrides, message in cases:
        arguments: dict[str, Any] = {
            "username": "budi.uji",
            "full_name": "Budi",
            "role": "operator_desa",
            "regions": ("3471011001",),
            "password": PASSWORD,
            "now": START,
            "actor": ADMIN,
            **overrides,
        }
        with session_scope(engine=engine) as db, pytest.raises(AccountError, match=message):
            create_user(db, **arguments)
    taken = _user(engine)
    with session_scope(engine=engine) as db, pytest.raises(AccountError, match="taken"):
        create_user(
            db,
            username=taken.upper(),
            full_name="X",
            role="operator_desa",
            regions=("3471011001",),
            password=PASSWORD,
            now=START,
            actor=ADMIN,
        )


# --- login, lock-out, sessions -------------------------------------------------------------------------


def test_login_sets_a_hardened_cookie_and_audits(engine: Engine, client: TestClient) -> None:
    username = _user(engine, role="pendamping", regions=("3471011001", "3471011002"))
    response = _login(client, username, next="/akun")
    assert response.status_code == 303
    assert response.headers["location"] == "/akun"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("dtsen_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    token = client.cookies["dtsen_session"]
    with Session(engine) as db:
        row = db.get(StaffSession, session_id(token))
        assert row is not None
        assert row.expires_at == START + timedelta(hours=8)
        assert db.get(StaffSession, token) is None  # only the hash is stored
    assert client.get("/uji/siapa").json() == {
        "kind": "user",
        "name": username,
        "regions": ["3471011001", "3471011002"],
    }
    page = client.get("/akun")
    assert page.status_code == 200
    assert "Pendamping sosial" in page.text
    assert "3471011002" in page.text
    assert _audit(engine, "login", f"user:{username}")


def test_secure_cookie_over_https(app: FastAPI, engine: Engine) -> None:
    username = _user(engine)
    with TestClient(app, base_url="https://dtsen.example") as client:
        response = _login(client, username)
    assert "Secure" in response.headers["set-cookie"]


def test_cookie_secure_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from dtsen.auth.policy import policy_of

    bare = SimpleNamespace(state=SimpleNamespace())
    monkeypatch.delenv("DTSEN_COOKIE_SECURE", raising=False)
    assert not policy_of(bare).cookie_secure
    monkeypatch.setenv("DTSEN_COOKIE_SECURE", "1")
    assert policy_of(bare).cookie_secure


def test_next_is_never_an_open_redirect(engine: Engine, client: TestClient) -> None:
    username = _user(engine)
    response = _login(client, username, next="//evil.example/x")
    assert response.headers["location"] == "/staf"
    response = _login(client, username, next="https://evil.example/")
    assert response.headers["location"] == "/staf"


def test_failed_logins_answer_identically_and_are_audited_with_the_reason(
    engine: Engine, client: TestClient
) -> None:
    username = _user(engine)
    unknown = _login(client, "nobody-here")
    wrong = _login(client, username, "salah-sekali-kata-sandinya")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.text.replace("nobody-here", "USER") == wrong.text.replace(username, "USER")
    assert "dtsen_session" not in client.cookies
    reasons = {
        (entry.actor, entry.detail["reason"] if entry.detail else None)
        for entry in _audit(engine, "login_failed")
    }
    assert ("anonymous", "unknown_user") in reasons
    assert (f"user:{username}", "wrong_password") in reasons
    # A NIK typed as a username, however spelled, never reaches the audit log (nor breaks the login).
    for spelling in (
        "3471011203850001",
        "3471-0112-0385-0001",
        "3471 0112 0385 0001",
        "34.71.01.120385.0001",
    ):
        assert _login(client, spelling).status_code == 400
        form = {"grant_type": "client_credentials", "client_id": spelling, "client_secret": "x"}
        assert client.post("/auth/token", data=form).status_code == 401
    digits = re.compile(r"\d{4}")
    for entry in _audit(engine, "login_failed") + _audit(engine, "token_refused"):
        assert entry.detail is not None
        assert not digits.search(str(entry.detail.get("username") or entry.detail.get("client_id") or ""))


def test_lockout_after_five_failures_then_unlocks_after_fifteen_minutes(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    username = _user(engine)
    for _ in range(5):
        assert _login(client, username, "salah-sekali-kata-sandinya").status_code == 400
    locked = _login(client, username)  # the right password, but locked
    unknown = _login(client, "nobody-at-all")
    assert locked.status_code == 400
    assert locked.text.replace(username, "USER") == unknown.text.replace("nobody-at-all", "USER")
    entries = _audit(engine, "locked", f"user:{username}")
    assert len(entries) == 1
    failures = _audit(engine, "login_failed", f"user:{username}")
    assert failures[-1].detail
    assert failures[-1].detail["reason"] == "locked"

    clock.advance(minutes=14, seconds=59)
    assert _login(client, username).status_code == 400
    clock.advance(seconds=2)
    assert _login(client, username).status_code == 303


def test_session_idle_and_absolute_expiry(engine: Engine, client: TestClient, clock: Clock) -> None:
    username = _user(engine)
    _login(client, username)
    clock.advance(minutes=29)
    assert client.get("/uji/siapa").json()["kind"] == "user"  # activity moves the idle clock
    clock.advance(minutes=29)
    assert client.get("/uji/siapa").json()["kind"] == "user"
    clock.advance(minutes=31)
    assert client.get("/uji/siapa").json()["kind"] == "public"  # idle too long

    _login(client, username)
    logged_in = clock.now
    while client.get("/uji/siapa").json()["kind"] == "user":  # active all day: every 29 minutes ...
        clock.advance(minutes=29)
    assert timedelta(hours=8) <= clock.now - logged_in < timedelta(hours=8, minutes=29)  # ... until 8 hours


def test_require_user_redirects_browsers_and_refuses_api_clients(client: TestClient) -> None:
    page = client.get("/uji/keluarga?x=1", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/masuk?next=/uji/keluarga%3Fx%3D1"
    api = client.get("/api/uji/keluarga")
    assert api.status_code == 401
    assert api.json()["error"] == "invalid_token"


def test_login_rotates_the_session_and_logout_revokes_it(
    engine: Engine, client: TestClient, clock: Clock
) -> None:
    username = _user(engine)
    _login(client, username)
    first = client.cookies["dtsen_session"]
    _login(client, username)
    second = client.cookies["dtsen_session"]
    assert first != second
    with Session(engine) as db:
        old = db.get(StaffSession, session_id(first))
        assert old is not None
        assert old.revoked

    token = _token(client, "/akun")
    response = client.post("/keluar", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/masuk?keluar=1"
    with Session(engine) as db:
        row = db.get(StaffSession, session_id(second))
        assert row is not None
        assert row.revoked
    # A week after they ended, a user's old sessions are deleted at their next login.
    clock.advance(hours=8, days=7, seconds=1)
    _login(client, username)
    with Session(engine) as db:
        assert db.get(StaffSession, session_id(first)) is None
    # The stolen cookie is dead too.
    with TestClient(client.app, base_url="http://127.0.0.1", cookies={"dtsen_session": second}) as other:
        assert other.get("/uji/siapa").json()["kind"] == "public"
    assert _audit(engine, "logout", f"user:{username}")


def test_disabled_user_loses_every_session(engine: Engine, client: TestClient) -> None:
    from dtsen.auth.accounts import set_active

    username = _user(engine)
    _login(client, username)
    assert client.get("/uji/siapa").json()["kind"] == "user"
    with session_scope(engine=engine) as db:
        user = get_user(db, username)
        assert user is not None
        set_active(db, user, False, now=START, actor=ADMIN)
    assert client.get("/uji/siapa").json()["kind"] == "public"
    failed = _login(client, username)
    assert failed.status_code == 400
    assert _audit(engine, "login_failed", f"user:{username}")[-1].detail["reason"] == "disabled"  # type: ignore[index]


def test_a_deactivated_user_row_alone_kills_the_session(engine: Engine, client: TestClient) -> None:
    username = _user(engine)
    _login(client, username)
    with session_scope(engine=engine) as db:  # not through set_active: sessions left unrevoked
        user = get_user(db, username)
        assert user is not None
        user.active = False
    assert client.get("/uji/siapa").json()["kind"] == "public"


def test_forced_password_change(engine: Engine, client: TestClient) -> None:
    username = _user(engine, must_change_password=True)
    response = _login(client, username)
    assert response.headers["location"] == "/akun/sandi"
    page = client.get("/akun", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/akun/sandi"
    token = _token(client, "/akun/sandi")
    bad = client.post(
        "/akun/sandi", data={"current": PASSWORD, "new": "pendek", "repeat": "pendek", "csrf_token": token}
    )
    assert bad.status_code == 400
    assert "minimal 12" in bad.text
    new = "sawah-hijau-di-lereng-merapi"
    done = client.post(
        "/akun/sandi", data={"current": PASSWORD, "new": new, "repeat": new, "csrf_token": token}
    )
    assert done.status_code == 200
    assert client.get("/uji/siapa").json()["kind"] == "public"  # every session ended
    assert _login(client, username, new).headers["location"] == "/staf"
    assert _audit(engine, "password_set", f"user:{username}")


def test_login_and_token_attempts_are_rate_limited_per_network(
    engine: Engine, client: TestClient, app: FastAPI, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        app.state, "auth_policy", AuthPolicy(login_attempts_per_network=2, token_requests_per_network=2)
    )
    clock.now = START + timedelta(days=30)  # a fresh window
    username = _user(engine)
    assert _login(client, "nobody-1", "x").status_code == 400
    assert _login(client, "nobody-2", "x").status_code == 400
    limited = _login(client, username)  # even the right password: this network must wait
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "Terlalu banyak percobaan" in limited.text
    assert _audit(engine, "login_failed")[-1].detail["reason"] == "rate_limited"  # type: ignore[index]
    form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    assert [client.post("/auth/token", data=form).status_code for _ in range(3)] == [401, 401, 429]
    clock.advance(hours=2)
    assert _login(client, username).status_code == 303


# --- CSRF ------------------------------------------------------------------------------------------------


def test_csrf_missing_wrong_and_right_on_a_signed_in_post(engine: Engine, client: TestClient) -> None:
    username = _user(engine)
    _login(client, username)
    html = {"accept": "text/html"}
    missing = client.post("/uji/catat", data={"catatan": "x"}, headers=html)
    assert missing.status_code == 403
    assert "Formulir kedaluwarsa atau tidak sah" in missing.text
    assert "Traceback" not in missing.text
    wrong = client.post("/uji/catat", data={"catatan": "x", "csrf_token": "salah"}, headers=html)
    assert wrong.status_code == 403
    anonymous = client.cookies["dtsen_csrf"]  # the pre-session token does not count once signed in
    assert client.post("/uji/catat", data={"catatan": "x", "csrf_token": anonymous}).status_code == 403
    token = _token(client, "/akun")
    assert client.post("/uji/catat", data={"catatan": "ya", "csrf_token": token}).json() == {
        "ok": "ya",
        "by": username,
    }
    assert (
        client.post("/uji/catat", data={"catatan": "ya"}, headers={"X-CSRF-Token": token}).status_code == 200
    )
    multipart = client.post(
        "/uji/catat", data={"catatan": "ya", "csrf_token": token}, files={"f": ("a.txt", b"x")}
    )
    assert multipart.status_code == 200
    assert client.post("/uji/catat", json={"catatan": "x"}).status_code == 403  # JSON needs the header
    # Another user's token is wrong for this session.
    other = _user(engine)
    with TestClient(client.app, base_url="http://127.0.0.1") as second:
        _login(second, other)
        theirs = _token(second, "/akun")
    assert client.post("/uji/catat", data={"catatan": "x", "csrf_token": theirs}).status_code == 403


def test_csrf_on_anonymous_forms_and_the_login_form(engine: Engine, client: TestClient) -> None:
    # A cross-site post carries none of our cookies: refused.
    with TestClient(client.app, base_url="http://127.0.0.1") as fresh:
        refused = fresh.post("/uji/publik", data={"nama": "Sari", "csrf_token": "x.y"})
        assert refused.status_code == 403
        assert fresh.post("/masuk", data={"username": "a", "password": "b"}).status_code == 403
    assert "set-cookie" not in client.get("/uji/siapa").headers  # no form, no token
    token = _token(client)
    assert client.cookies["dtsen_csrf"] == token
    assert "set-cookie" not in client.get("/masuk").headers  # kept while it verifies
    assert _token(client) == token
    assert client.post("/uji/publik", data={"nama": "Sari", "csrf_token": token}).json() == {"ok": "Sari"}
    # A cookie and field that agree but were not signed by us.
    forged = "abc.def"
    with TestClient(client.app, base_url="http://127.0.0.1", cookies={"dtsen_csrf": forged}) as attacker:
        assert attacker.post("/uji/publik", data={"nama": "x", "csrf_token": forged}).status_code == 403
    api = client.post("/uji/publik", data={"nama": "x"}, headers={"accept": "application/json"})
    assert api.status_code == 403
    assert "Formulir kedaluwarsa" in api.json()["detail"]


# --- machine clients ------------------------------------------------------------------------------------


def _client_credentials(
    engine: Engine, scopes: tuple[str, ...] = ("family.read", "person.search")
) -> tuple[str, str]:
    with session_scope(engine=engine) as db:
        created = create_client(
            db,
            name="Dinas Kesehatan DIY",
            organisation="Pemda DIY",
            role="klien_instansi",
            scopes=scopes,
            regions=("3471",),
            now=START,
            actor=ADMIN,
        )
        return created.client.client_id, created.secret


def test_token_endpoint_issues_a_verifiable_jwt(engine: Engine, client: TestClient, app: FastAPI) -> None:
    client_id, secret = _client_credentials(engine)
    response = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"  # noqa: S105
    assert body["expires_in"] == 900
    assert body["scope"] == "family.read person.search"
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256"
    assert header["kid"] == keys[0]["kid"]
    public = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(
        body["access_token"],
        public,
        algorithms=["ES256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["sub"] == client_id
    assert claims["role"] == "klien_instansi"
    assert claims["regions"] == ["3471"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]
    bearer = {"authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/uji/keluarga", headers=bearer).json() == {"ok": client_id}
    assert client.get("/uji/siapa", headers=bearer).json()["regions"] == ["3471"]
    assert _audit(engine, "token_issued", f"client:{client_id}")

    # HTTP Basic and a narrower scope.
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    narrow = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "person.search"},
        headers={"authorization": f"Basic {basic}"},
    )
    assert narrow.json()["scope"] == "person.search"
    refused = client.get(
        "/api/uji/keluarga", headers={"authorization": f"Bearer {narrow.json()['access_token']}"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert _audit(engine, "access_denied", f"client:{client_id}")


def test_token_endpoint_refusals_are_oauth_errors(engine: Engine, client: TestClient) -> None:
    client_id, secret = _client_credentials(engine)
    cases = [
        (
            {"grant_type": "password", "client_id": client_id, "client_secret": secret},
            400,
            "unsupported_grant_type",
        ),
        ({"client_id": client_id, "client_secret": secret}, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": secret},
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        (
            {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "audit.read",
            },
            400,
            "invalid_scope",
        ),
    ]
    for data, status, error in cases:
        response = client.post("/auth/token", data=data)
        assert (response.status_code, response.json()["error"]) == (status, error), data
        assert "error_description" in response.json()
    bad_basic = client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, headers={"authorization": "Basic !!!"}
    )
    assert bad_basic.status_code == 401
    assert bad_basic.headers["www-authenticate"].startswith("Basic")
    reasons = {entry.detail["reason"] for entry in _audit(engine, "token_refused") if entry.detail}
    assert {
        "grant_type",
        "no_grant_type",
        "wrong_secret",
        "unknown_client",
        "no_credentials",
        "scope",
    } <= reasons


def _bearer_status(client: TestClient, token: str) -> tuple[int, dict[str, Any]]:
    response = client.get("/api/uji/keluarga", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.json()


def test_bad_tokens_are_refused_in_oauth_shape_and_audited(
    engine: Engine, client: TestClient, app: FastAPI, clock: Clock
) -> None:
    client_id, _ = _client_credentials(engine)
    key: SigningKey = app.state.signing_key

    def make(signing: SigningKey = key, now: datetime = START, **kw: Any) -> str:
        return issue_token(
            signing,
            subject=client_id,
            role="klien_instansi",
            scopes=frozenset({"family.read"}),
            regions=("3471",),
            now=now,
            lifetime_seconds=900,
            **kw,
        )[0]

    assert _bearer_status(client, make())[0] == 200
    before = len(_audit(engine, "token_rejected"))
    for token, fragment in [
        (make(SigningKey.generate()), "tanda tangan"),  # signed by another key
        (make(now=START - timedelta(minutes=16)), "kedaluwarsa"),  # expired
        (make(audience="other-service"), "audiens"),
        ("not.a.jwt", "tidak"),
        (jwt.encode({"sub": client_id}, "s" * 32, algorithm="HS256"), "algoritme"),
    ]:
        status, body = _bearer_status(client, token)
        assert status == 401, body
        assert body["error"] == "invalid_token"
        assert fragment in body["error_description"]
    assert len(_audit(engine, "token_rejected")) == before + 5

    clock.advance(minutes=15)
    assert _bearer_status(client, make())[0] == 401  # expiry by the injected clock

    clock.now = START
    with session_scope(engine=engine) as db:
        from dtsen.auth.clients import get_client, revoke_client

        found = get_client(db, client_id)
        assert found is not None
        revoke_client(db, found, now=START, actor=ADMIN)
    status, body = _bearer_status(client, make())
    assert status == 401
    assert "dicabut" in body["error_description"]
    assert _audit(engine, "token_rejected", f"client:{client_id}")


def test_revoked_client_gets_no_new_token(engine: Engine, client: TestClient) -> None:
    from dtsen.auth.clients import get_client, revoke_client

    client_id, secret = _client_credentials(engine)
    with session_scope(engine=engine) as db:
        found = get_client(db, client_id)
        assert found is not None
        revoke_client(db, found, now=START, actor=ADMIN)
    response = client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert _audit(engine, "client_revoked")


def test_verify_token_directly() -> None:
    key = SigningKey.generate()
    token, _ = issue_token(
        key,
        subject="c",
        role="klien_instansi",
        scopes=frozenset(),
        regions=(),
        now=START,
        lifetime_seconds=60,
    )
    assert verify_token(token, key, now=START + timedelta(seconds=59))["sub"] == "c"
    from dtsen.auth.tokens import TokenError

    with pytest.raises(TokenError, match="kedaluwarsa"):
        verify_token(token, key, now=START + timedelta(seconds=60))


def test_a_verified_token_is_remembered_but_expiry_and_another_key_still_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dtsen.auth import tokens

    decoded: list[str] = []
    decode = tokens.jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    key, other = SigningKey.generate(), SigningKey.generate()
    token, _ = issue_token(
        key,
        subject="c",
        role="klien_instansi",
        scopes=frozenset(),
        regions=(),
        now=START,
        lifetime_seconds=60,
    )
    assert verify_token(token, key, now=START)["sub"] == "c"
    assert verify_token(token, key, now=START + timedelta(seconds=30))["sub"] == "c"
    assert decoded == [token]  # the signature was checked once
    with pytest.raises(tokens.TokenError, match="kedaluwarsa"):
        verify_token(token, key, now=START + timedelta(seconds=60))  # expiry checked on every use
    with pytest.raises(tokens.TokenError, match="tanda tangan"):
        verify_token(token, other, now=START)  # a rotated key verifies afresh
    with pytest.raises(tokens.TokenError, match="tanda tangan"):
        verify_token(token, other, now=START)
    assert decoded == [token, token, token]  # refusals are not remembered


def test_signing_key_is_created_once_with_mode_0600(tmp_path: Any) -> None:
    path = tmp_path / "keys" / ".jwt_signing_key.pem"
    first = SigningKey.load_or_create(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert SigningKey.load_or_create(path).kid == first.kid


# --- permissions ----------------------------------------------------------------------------------------


def test_permissions_table_and_route_introspection(app: FastAPI) -> None:
    assert role_has(Role.OPERATOR_DESA, "family.read")
    assert not role_has(Role.AUDITOR, "family.read")
    assert role_has(Role.AUDITOR, "audit.export")
    assert not role_has(None, "family.read")
    with pytest.raises(KeyError, match="unknown permission"):
        requires("family.raed")
    routes = {(route.path, *sorted(route.methods)): route for route in api_routes(app)}
    by_path = {key: permission_of(route) for key, route in routes.items()}
    assert by_path["/uji/keluarga", "GET"] == "family.read"
    assert by_path["/api/uji/audit", "GET"] == "audit.read"
    assert by_path["/uji/catat", "POST"] is None
    assert by_path["/masuk", "POST"] is None
    assert requires_login(routes["/uji/catat", "POST"])
    assert requires_login(routes["/akun", "GET"])
    assert requires_login(routes["/uji/keluarga", "GET"])
    assert not requires_login(routes["/masuk", "GET"])
    assert ("/auth/token", "POST") in routes
    assert ("/.well-known/jwks.json", "GET") in routes
    assert set(PERMISSIONS) >= {"person.search", "family.read", "audit.read", "audit.export", "users.manage"}


def test_role_without_the_permission_gets_403_and_is_audited(engine: Engine, client: TestClient) -> None:
    username = _user(engine, role="auditor", regions=())
    _login(client, username)
    page = client.get("/uji/keluarga", headers={"accept": "text/html"})
    assert page.status_code == 403
    assert "tidak berwenang" in page.text
    assert client.get("/api/uji/audit").json() == {"ok": username}
    assert client.get("/api/uji/orang/3471-0112-0385-0001").status_code == 403  # audited, NIK masked
    assert (
        _audit(engine, "access_denied", f"user:{username}")[-1].detail["path"]
        == "/api/uji/orang/####-####-####-####"
    )  # type: ignore[index]
    assert client.get("/api/uji/keluarga").status_code == 403
    denied = _audit(engine, "access_denied", f"user:{username}")
    assert denied
    assert denied[-1].detail
    assert denied[-1].detail["permission"] == "family.read"


def test_every_audit_entry_chains(engine: Engine) -> None:
    from dtsen.store.audit import verify_chain

    with Session(engine) as db:
        assert verify_chain(db) == []
        users = db.scalars(select(StaffUser)).all()
    assert users


def test_a_session_id_that_opens_with_sixteen_digits_still_signs_in(
    engine: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hex SHA-256 opens with 16 decimal digits once in ~1,850 sessions; the login's audit entry names
    the session by a prefix that must never look like a NIK (the audit refuses NIK-shaped numbers)."""
    from dtsen.auth import sessions

    real = sessions.session_id
    monkeypatch.setattr(sessions, "session_id", lambda token: "3171234567890123" + real(token)[16:])
    response = _login(client, _user(engine))
    assert response.status_code == 303
    assert response.headers["location"] == "/staf"
    entries = _audit(engine, "login")
    assert entries
    assert entries[-1].detail is not None
    assert entries[-1].detail["session"] == "317123456789"
