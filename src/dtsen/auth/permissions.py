"""THE table of who may do what: permission name -> the roles that hold it.

Routers never test roles; they declare ``Depends(requires("family.read"))`` and this table decides. Region
limits are a separate, second rule (:mod:`dtsen.auth.scope`): a permission says what kind of thing a role
may do, the scope says where. For machine clients the permission must also be among the token's scopes
(OAuth2 scopes are permission names), so an agency gets the least its approved request needs.

:func:`permission_of` reads the permission a route requires from its dependency tree, so the
authorization-matrix test can enumerate every route of the app and no new endpoint can skip the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from dtsen.auth.scope import Role
from dtsen.web.i18n import N_

# What each role is called on pages and in a citizen's "who read my data" (msgids; translate at render).
ROLE_LABELS: dict[str, str] = {
    Role.ADMIN_BPS: N_("Administrator BPS"),
    Role.ANALIS_BPS: N_("Analis BPS"),
    Role.KEMENSOS: N_("Kementerian Sosial"),
    Role.DINSOS: N_("Dinas Sosial kabupaten/kota"),
    Role.OPERATOR_DESA: N_("Operator desa/kelurahan"),
    Role.PENDAMPING: N_("Pendamping sosial"),
    Role.KLIEN_INSTANSI: N_("Instansi (sistem)"),
    Role.AUDITOR: N_("Auditor"),
    Role.DUKCAPIL: N_("Dukcapil (sistem)"),
}

_ALL_STAFF = frozenset(
    {Role.ADMIN_BPS, Role.ANALIS_BPS, Role.KEMENSOS, Role.DINSOS, Role.OPERATOR_DESA, Role.PENDAMPING}
)
# Roles that may read personal data of the people in their regions (staff and approved agencies).
_PERSONAL_DATA = _ALL_STAFF | {Role.KLIEN_INSTANSI}

PERMISSIONS: dict[str, frozenset[Role]] = {
    # personal data: search, the family page (members, desil, explanation, history, programs, provenance)
    "person.search": _PERSONAL_DATA,
    "family.read": _PERSONAL_DATA,
    "family.export": frozenset({Role.ADMIN_BPS, Role.ANALIS_BPS, Role.KEMENSOS, Role.DINSOS}),
    # aggregate statistics with no personal data
    "stats.read": _ALL_STAFF | {Role.AUDITOR},
    # citizen requests (usulan / sanggahan): the queue of a village and of its dinsos
    "request.read": frozenset({Role.ADMIN_BPS, Role.DINSOS, Role.OPERATOR_DESA, Role.PENDAMPING}),
    "request.process": frozenset({Role.DINSOS, Role.OPERATOR_DESA}),
    # musyawarah desa: the village's operator runs its sessions; the dinsos and admin BPS read them
    "musdes.manage": frozenset({Role.OPERATOR_DESA}),
    "musdes.read": frozenset({Role.OPERATOR_DESA, Role.DINSOS, Role.ADMIN_BPS}),
    # workflow cases (usulan, sanggahan, verval): read the queues and case pages of one's regions, take the
    # actions of one's role (the workflow decides which; admin BPS reads, the cycle records outcomes), and
    # the kab/kota dashboard of counts, SLA breaches and progress by village
    "case.read": frozenset({Role.ADMIN_BPS, Role.DINSOS, Role.OPERATOR_DESA, Role.PENDAMPING}),
    "case.act": frozenset({Role.DINSOS, Role.OPERATOR_DESA, Role.PENDAMPING}),
    "case.monitor": frozenset({Role.ADMIN_BPS, Role.DINSOS}),
    # planning the quarter's ground checks (borderline first) for a kab/kota
    "verval.plan": frozenset({Role.DINSOS}),
    # population events from the civil registry (Dukcapil) pushed by machine clients (DCI notify)
    "events.submit": frozenset({Role.DUKCAPIL}),
    # an agency system subscribes to desil / program changes of its approved population (DCI subscribe)
    "dci.subscribe": frozenset({Role.KLIEN_INSTANSI}),
    # the processing trail (UU 27/2022): search and export
    "audit.read": frozenset({Role.AUDITOR, Role.ADMIN_BPS}),
    "audit.export": frozenset({Role.AUDITOR}),
    # agency access requests: an agency files and reads its own; admin BPS reviews them technically and
    # Kemensos (the data controller) substantively (dtsen.sharing.requests decides which step is whose);
    # extracts of an approved request are made and downloaded by the agency (and admin BPS)
    "access.request": frozenset({Role.KLIEN_INSTANSI}),
    "access.review": frozenset({Role.ADMIN_BPS, Role.KEMENSOS}),
    "access.extract": frozenset({Role.KLIEN_INSTANSI, Role.ADMIN_BPS}),
    # the DCI Social Registry API (/dci/registry/...search, txn/status): an agency system searches what the
    # access request it is linked to allows (dtsen.sharing.dci)
    "dci.search": frozenset({Role.KLIEN_INSTANSI}),
    # administration
    "users.manage": frozenset({Role.ADMIN_BPS}),
    "clients.manage": frozenset({Role.ADMIN_BPS}),
    "snapshot.load": frozenset({Role.ADMIN_BPS}),
}


def check_permission(permission: str) -> str:
    """``permission`` if the table knows it; a typo in a router fails at import time, not at request."""
    if permission not in PERMISSIONS:
        known = ", ".join(sorted(PERMISSIONS))
        raise KeyError(f"unknown permission {permission!r}; known: {known}")
    return permission


def role_has(role: Role | str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (no role, e.g. the public, holds none)."""
    if role is None:
        return False
    try:
        return Role(role) in PERMISSIONS[check_permission(permission)]
    except ValueError:
        return False


def permissions_of(role: Role | str) -> frozenset[str]:
    """Every permission a role holds (the scopes a machine client of that role may be granted)."""
    return frozenset(name for name in PERMISSIONS if role_has(role, name))


def _dependency_calls(dependant: Any) -> Iterable[Any]:
    for dependency in getattr(dependant, "dependencies", ()):
        yield dependency.call
        yield from _dependency_calls(dependency)


def api_routes(app: Any) -> Iterator[Any]:
    """Every API route of an app as the app serves it, included routers flattened (FastAPI >= 0.13x
    keeps included routers as one entry in ``app.routes``): each has ``path``, ``methods`` and the
    ``dependant`` with the router-level dependencies, which is what :func:`permission_of` reads."""
    from fastapi.routing import APIRoute

    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        yield from (route for route in app.routes if isinstance(route, APIRoute))
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def requires_login(route: Any) -> bool:
    """Whether a route admits only signed-in users or clients (any ``requires(...)`` or
    ``require_user`` / ``require_authenticated`` in its dependency tree)."""
    from dtsen.auth.deps import require_authenticated

    dependant = getattr(route, "dependant", None)
    return dependant is not None and any(
        call is require_authenticated for call in _dependency_calls(dependant)
    )


def permission_of(route: Any) -> str | None:
    """The permission a route requires (via :func:`dtsen.auth.deps.requires`), or ``None`` if none.

    Walks the route's whole dependency tree, so a permission declared on the router
    (``APIRouter(dependencies=[...])``) or inside another dependency counts too.
    """
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    for call in _dependency_calls(dependant):
        permission = getattr(call, "permission", None)
        if isinstance(permission, str):
            return permission
    return None
