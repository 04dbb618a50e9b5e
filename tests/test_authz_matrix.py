"""The authorization matrix, generated from the app's own route table: every route x every role (staff
users, machine clients, the anonymous public) x {own region, other region}.

Each route must declare who may call it: a permission (``requires(...)``, read back by
:func:`dtsen.auth.permissions.permission_of`), or public (the public router's marker, or the short list
below), or sign-in only (``require_user`` / ``require_authenticated``) *and* named in the short list of
pages about the signed-in person. A route that declares none fails
:func:`test_every_route_declares_who_may_call_it`, so a new endpoint cannot skip the table.

Then every route is called as every principal and the answer compared with the table: refused as
unauthenticated (401, or a redirect to the login page), forbidden (403), or let through (anything else;
a 5xx always fails). Routes with a ``{family_id}`` are called with a family inside the principal's region
and one outside it: inside answers 200, outside 404 exactly like an unknown id, and leaves an audit entry.
The staff searches are probed the same way with a member's NIK.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from starlette.routing import Mount, Route

from dtsen.auth import deps, permissions
from dtsen.auth.permissions import permission_of, permissions_of, role_has
from dtsen.auth.scope import Role

# Public by nature, outside the public router (which marks its routes itself).
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/"),
    ("GET", "/api/openapi.json"),
    ("GET", "/masuk"),
    ("POST", "/masuk"),
    ("POST", "/keluar"),
    ("POST", "/auth/token"),
    ("GET", "/.well-known/jwks.json"),
}
PUBLIC_MOUNTS = {"/static"}
# Sign-in is enough (no permission): pages about the signed-in person themselves. Listed here on
# purpose: a new route with only require_user/require_authenticated fails until someone decides it
# belongs on this list rather than behind a permission.
SIGNED_IN_ROUTES = {
    ("GET", "/staf"),
    ("GET", "/api/staf"),
    ("GET", "/akun"),
    ("GET", "/akun/sandi"),
    ("POST", "/akun/sandi"),
}
OTHER_KAB = "3404"  # Sleman: a kabupaten the test city (Kota Yogyakarta) has no families in
SEARCH_PATHS = {"/staf/cari", "/api/staf/cari"}
PASSWORD = "Matriks-uji-2026!kata"  # noqa: S105 - throwaway accounts on a test database


# -- what each route declares ----------------------------------------------------------------------------
def _dependency_calls(dependant: Any) -> Iterator[Any]:
    for dependency in getattr(dependant, "dependencies", ()):
        yield dependency.call
        yield from _dependency_calls(dependency)


@dataclass(frozen=True)
class Policy:
    kind: str  # "public" | "permission" | "user" | "authenticated"
    permission: str | None = None


def policy_of(route: Any, method: str) -> Policy | None:
    permission = permission_of(route)
    if permission is not None:
        return Policy("permission", permission)
    calls = list(_dependency_calls(route.dependant))
    if any(getattr(call, "public", False) is True for call in calls) or (method, route.path) in PUBLIC_ROUTES:
        return Policy("public")
    if (method, route.path) not in SIGNED_IN_ROUTES:
        return None
    if deps.require_user in calls:
        return Policy("user")
    if deps.require_authenticated in calls:
        return Policy("authenticated")
    return None


def api_routes(app: FastAPI) -> list[tuple[str, Any]]:
    """(method, route) for every API route as served, included routers flattened."""
    return [
        (method, route)
        for route in permissions.api_routes(app)
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"})
    ]


# -- the served registry and the principals ---------------------------------------------------------------
@dataclass
class Caller:
    label: str
    role: Role | None
    kind: str  # "public" | "user" | "client"
    own: bool  # whether the target family lies in its region
    headers: dict[str, str]
    cookies: dict[str, str]
    actor: str | None = None


@pytest.fixture(scope="module")
def world(
    db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.store.db import make_engine
    from served_city import city_data_dir, ranked_families, served_database

    data_dir = city_data_dir(tmp_path_factory.getbasetemp())
    url = db_factory()
    served_database(url, data_dir)
    engine = make_engine(url)
    target, other = ranked_families(engine, 2)
    app = create_app(url)
    with TestClient(app, raise_server_exceptions=False) as client:
        callers = _callers(engine, client, target.kode_desa, target.kode_kab, other.kode_desa)
        yield {"app": app, "client": client, "engine": engine, "target": target, "callers": callers}
    engine.dispose()


def _regions(role: Role, own: bool, desa: str, kab: str, other_desa: str) -> tuple[str, ...]:
    if role in {Role.ADMIN_BPS, Role.ANALIS_BPS, Role.KEMENSOS, Role.AUDITOR, Role.DUKCAPIL}:
        return ()
    if role is Role.DINSOS or role is Role.KLIEN_INSTANSI:
        return (kab,) if own else (OTHER_KAB,)
    return (desa,) if own else (other_desa,)


def _callers(engine: Engine, client: TestClient, desa: str, kab: str, other_desa: str) -> list[Caller]:
    from dtsen.auth.accounts import create_user
    from dtsen.auth.clients import create_client
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import session_scope

    now = datetime.now(UTC)
    actor = {"actor": "system:test", "actor_role": None}
    client.get("/masuk")  # a page with a form hands out the anonymous token
    anonymous_csrf = client.cookies["dtsen_csrf"]
    client.cookies.clear()
    callers = [
        Caller(
            "publik", None, "public", True, {"x-csrf-token": anonymous_csrf}, {"dtsen_csrf": anonymous_csrf}
        )
    ]
    user_roles = [
        Role.ADMIN_BPS,
        Role.ANALIS_BPS,
        Role.KEMENSOS,
        Role.DINSOS,
        Role.OPERATOR_DESA,
        Role.PENDAMPING,
        Role.AUDITOR,
    ]
    client_roles = [Role.KLIEN_INSTANSI, Role.DUKCAPIL]
    for own in (True, False):
        where = "sendiri" if own else "lain"
        for role in user_roles:
            regions = _regions(role, own, desa, kab, other_desa)
            username = f"matriks.{role.value.replace('_', '-')}.{where}"
            with session_scope(engine=engine) as db:
                user = create_user(
                    db,
                    username=username,
                    full_name=f"Uji {role.value}",
                    role=role,
                    regions=regions,
                    password=PASSWORD,
                    now=now,
                    actor=actor,
                )
                created = create_session(db, user, now=now, policy=DEFAULT_POLICY)
                csrf = created.row.csrf_token
            callers.append(
                Caller(
                    f"{role.value}/{where}",
                    role,
                    "user",
                    own or not regions,
                    {"x-csrf-token": csrf},
                    {SESSION_COOKIE: created.token},
                    f"user:{username}",
                )
            )
        for role in client_roles:
            regions = _regions(role, own, desa, kab, other_desa)
            with session_scope(engine=engine) as db:
                made = create_client(
                    db,
                    name=f"uji {role.value} {where}",
                    organisation="Uji",
                    role=role,
                    scopes=sorted(permissions_of(role)),
                    regions=regions,
                    now=now,
                    actor=actor,
                )
                client_id, secret = made.client.client_id, made.secret
            answer = client.post(
                "/auth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            )
            assert answer.status_code == 200, answer.text
            token = answer.json()["access_token"]
            callers.append(
                Caller(
                    f"{role.value}/{where}",
                    role,
                    "client",
                    own or not regions,
                    {"authorization": f"Bearer {token}"},
                    {},
                    f"client:{client_id}",
                )
            )
    return callers


# -- calling a route ----------------------------------------------------------------------------------------
def _path(route: Any, family_id: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: family_id if m.group(1) == "family_id" else "x", route.path)


def call(client: TestClient, caller: Caller, method: str, path: str, **kwargs: Any) -> Any:
    client.cookies.clear()
    for name, value in caller.cookies.items():
        client.cookies.set(name, value)
    headers = {"accept": "text/html", **caller.headers, **kwargs.pop("headers", {})}
    try:
        return client.request(method, path, headers=headers, follow_redirects=False, **kwargs)
    finally:
        client.cookies.clear()


def outcome(response: Any) -> str:
    if response.status_code >= 500:
        return f"error {response.status_code}"
    if response.status_code == 401 or (
        response.status_code in {302, 303, 307}
        and response.headers.get("location", "").startswith("/masuk?next=")
    ):
        return "unauthenticated"
    if response.status_code == 403:
        return "forbidden"
    return "allowed"


def expected(policy: Policy, caller: Caller) -> str:
    if policy.kind == "public":
        return "allowed"
    if caller.kind == "public":
        return "unauthenticated"
    if policy.kind == "user":
        return "allowed" if caller.kind == "user" else "forbidden"
    if policy.kind == "authenticated":
        return "allowed"
    assert policy.permission is not None
    return "allowed" if role_has(caller.role, policy.permission) else "forbidden"


def _audit_count(engine: Engine) -> int:
    from dtsen.store.models import AuditLog

    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(AuditLog)) or 0)


def _last_audit(engine: Engine) -> Any:
    from dtsen.store.models import AuditLog

    with engine.connect() as connection:
        return connection.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).one()


# -- the tests -----------------------------------------------------------------------------------------------
def test_every_route_declares_who_may_call_it(world: dict[str, Any]) -> None:
    app: FastAPI = world["app"]
    undeclared = [
        f"{method} {route.path}" for method, route in api_routes(app) if policy_of(route, method) is None
    ]
    assert not undeclared, (
        "routes without requires(permission), require_user/require_authenticated or the public marker: "
        f"{undeclared}"
    )
    others = []
    for route in app.routes:
        if isinstance(route, APIRoute | _IncludedRouter):
            continue
        if isinstance(route, Mount) and route.path in PUBLIC_MOUNTS:
            continue
        if isinstance(route, Route) and all(
            (m, route.path) in PUBLIC_ROUTES for m in route.methods - {"HEAD"}
        ):
            continue
        others.append(getattr(route, "path", repr(route)))
    assert not others, f"routes outside FastAPI's route table and not listed as public: {others}"


def test_the_matrix_covers_the_staff_pages(world: dict[str, Any]) -> None:
    declared = {(method, route.path): policy_of(route, method) for method, route in api_routes(world["app"])}
    assert declared[("GET", "/staf/keluarga/{family_id}")] == Policy("permission", "family.read")
    assert declared[("POST", "/staf/cari")] == Policy("permission", "person.search")
    assert declared[("GET", "/staf")] == Policy("user")
    assert declared[("GET", "/api/staf")] == Policy("authenticated")


def test_every_role_gets_what_the_table_says_on_every_route(world: dict[str, Any]) -> None:
    client, target = world["client"], world["target"]
    wrong = []
    for method, route in api_routes(world["app"]):
        policy = policy_of(route, method)
        assert policy is not None
        path = _path(route, target.id)
        for caller in world["callers"]:
            if (method, route.path) == ("POST", "/keluar") and caller.kind == "user":
                continue  # signing out would end the session the rest of the matrix rides on
            got = outcome(call(client, caller, method, path))
            want = expected(policy, caller)
            if got != want:
                wrong.append(f"{method} {route.path} as {caller.label}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_family_routes_answer_other_regions_like_unknown_ids(world: dict[str, Any]) -> None:
    client, target, engine = world["client"], world["target"], world["engine"]
    family_routes = [
        (method, route)
        for method, route in api_routes(world["app"])
        if "{family_id}" in route.path and method == "GET"
    ]
    assert family_routes, "no family routes found"
    wrong = []
    for method, route in family_routes:
        policy = policy_of(route, method)
        assert policy is not None
        for caller in world["callers"]:
            if expected(policy, caller) != "allowed":
                continue
            unknown = call(client, caller, method, _path(route, "K999999999999"))
            assert unknown.status_code == 404, f"{route.path}: an unknown id answers {unknown.status_code}"
            before = _audit_count(engine)
            response = call(client, caller, method, _path(route, target.id))
            if caller.own:
                if response.status_code != 200:
                    wrong.append(f"{route.path} as {caller.label} (own region): {response.status_code}")
                continue
            if response.status_code != 404:
                wrong.append(
                    f"{route.path} as {caller.label} (other region): {response.status_code}, not 404"
                )
                continue
            if response.text.replace(target.id, "ID") != unknown.text.replace("K999999999999", "ID"):
                wrong.append(f"{route.path} as {caller.label}: other-region 404 differs from an unknown id's")
            if _audit_count(engine) <= before:
                wrong.append(f"{route.path} as {caller.label}: the refused read left no audit entry")
            elif _last_audit(engine).actor != caller.actor:
                wrong.append(f"{route.path} as {caller.label}: the audit entry names another actor")
    assert not wrong, "\n".join(wrong)


def test_searches_find_only_inside_the_region(world: dict[str, Any]) -> None:
    client, target = world["client"], world["target"]
    wrong = []
    for caller in world["callers"]:
        if not role_has(caller.role, "person.search"):
            continue
        if caller.kind == "user":
            page = call(client, caller, "POST", "/staf/cari", data={"jenis": "nik", "q": target.nik})
            found = page.status_code == 200 and f"/staf/keluarga/{target.id}" in page.text
            if found != caller.own:
                wrong.append(f"/staf/cari as {caller.label}: found={found}, status {page.status_code}")
        answer = call(
            client,
            caller,
            "POST",
            "/api/staf/cari",
            json={"nik": target.nik},
            headers={"accept": "application/json"},
        )
        hits = answer.json().get("hasil", []) if answer.status_code == 200 else None
        found = bool(hits) and any(hit["id_keluarga"] == target.id for hit in hits)
        if answer.status_code != 200 or found != caller.own:
            wrong.append(f"/api/staf/cari as {caller.label}: found={found}, status {answer.status_code}")
    assert not wrong, "\n".join(wrong)


def test_a_new_route_without_a_declaration_is_caught(tmp_path: Any) -> None:
    """The check itself: routes added with no permission, or with a sign-in alone and not listed, are
    reported; a route behind requires(...) is not."""
    from fastapi import Depends

    from dtsen.api.app import create_app
    from dtsen.auth.deps import require_user, requires

    app = create_app(f"sqlite:///{tmp_path / 'unused.db'}")

    @app.get("/uji/tanpa-izin")
    def open_route() -> None: ...

    @app.get("/uji/masuk-saja")
    def signed_in_only(principal: Any = Depends(require_user)) -> None: ...

    @app.get("/uji/berizin")
    def guarded(principal: Any = Depends(requires("stats.read"))) -> None: ...

    found = {
        route.path: policy_of(route, "GET") for _, route in api_routes(app) if route.path.startswith("/uji/")
    }
    assert found == {
        "/uji/tanpa-izin": None,
        "/uji/masuk-saja": None,
        "/uji/berizin": Policy("permission", "stats.read"),
    }
