"""Staff pages and API for workflow cases: the queue of one's regions (what a role works on first), the case
page with its history and the actions its state offers this user, and the kab/kota dashboard; JSON twins
under ``/api/kasus`` for agency and mobile clients.

Every rule lives in the service layer (:mod:`dtsen.workflows.cases`): scoping, who may take which action,
required fields, the version check, idempotency and the audit trail. This module only parses input, picks a
role's default queue, decides which action forms to show and renders; a refused action re-renders the case
page with the service's Bahasa message and status (404, 403, 409, 422), never a 500.

**Default queues.** A pendamping opens on the visits assigned to them (``kunjungan``, ``ditugaskan``),
highest priority first: a list to work through in the field, no map needed. A desa operator sees the
village's open cases, a dinsos the cases waiting for its verification (``verifikasi``, ``dikonfirmasi``,
``dikunjungi``) with the SLA breaches counted on top; ``semua=1`` drops the role's default.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api.deps import db_session
from dtsen.api.errors import error_response
from dtsen.api.staff import desa_options, region_name
from dtsen.auth.deps import requires
from dtsen.auth.permissions import role_has
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal, Role, region_clause
from dtsen.store.cases import WorkflowCase, WorkflowStep
from dtsen.web import i18n, svg
from dtsen.web.i18n import N_
from dtsen.web.templating import render
from dtsen.workflows import cases
from dtsen.workflows.machine import WORKFLOWS, Transition

router = APIRouter(tags=["kasus"])

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
DASHBOARD_CHART_VILLAGES = 40  # the villages with the most cases get a bar; the table lists them all
VISIT_FORM = "/staf/kunjungan/{id}"  # the field form that records a visit's `hasil` and `perubahan`
# Fields a page form carries as text (the visit's `hasil` and `perubahan` come from the field form).
FORM_FIELDS = ("pendamping", "kasus_induk", "musdes", "nomor_keputusan", "alasan")
FIELD_LABELS: dict[str, str] = {
    "pendamping": N_("Pendamping yang ditugaskan"),
    "kasus_induk": N_("Nomor kasus induk"),
    "musdes": N_("Nomor berita acara musyawarah desa"),
    "nomor_keputusan": N_("Nomor surat keputusan"),
    "alasan": N_("Alasan"),
    "hasil": N_("Hasil kunjungan"),
    "perubahan": N_("Perubahan data"),
    "snapshot": N_("Snapshot"),
    "catatan": N_("Catatan"),
    "version": N_("Versi kasus"),
    "formulir": N_("Formulir"),
}
STEP_LABELS: dict[str, str] = {
    "buka": N_("Kasus dibuka"),
    "gabung_masuk": N_("Usulan lain digabungkan ke kasus ini"),
}
ORIGIN_LABELS: dict[str, str] = {
    "publik": N_("Warga (daring)"),
    "desa": N_("Desa/kelurahan"),
    "dinsos": N_("Dinas sosial"),
    "sistem": N_("Sistem"),
}
# Every state of every workflow once, in workflow order (the filter's choices).
STATE_LABELS: dict[str, str] = {
    state.name: state.label for workflow in WORKFLOWS.values() for state in workflow.states
}
VERIFICATION_STATES = ("verifikasi", "dikonfirmasi", "dikunjungi")
VISIT_STATES = ("kunjungan", "ditugaskan")
STALE_FORM = N_("Formulir ini tidak lengkap. Muat ulang halaman kasus lalu ulangi.")
BAD_FILTER_DESA = N_("Desa/kelurahan ini di luar wilayah Anda.")
BAD_FILTER_STATE = N_("Status ini tidak dikenal.")


_t = i18n.say


def _now(request: Request) -> datetime:
    return clock_of(request.app)()


# -- the queue -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as sent (validated by :func:`queue_filter`)."""

    jenis: str = ""
    state: str = ""
    desa: str = ""
    terlambat: bool = False
    semua: bool = False
    limit: int = PAGE_SIZE
    offset: int = 0

    def params(self, **changes: Any) -> str:
        """The query string of this queue (with ``changes``), for pagination links."""
        query = replace(self, **changes)
        pairs = {"jenis": query.jenis, "state": query.state, "desa": query.desa,
                 "terlambat": "1" if query.terlambat else "", "semua": "1" if query.semua else "",
                 "offset": str(query.offset) if query.offset else ""}  # fmt: skip
        return urlencode({key: value for key, value in pairs.items() if value})


def default_queue(principal: Principal) -> tuple[str, cases.QueueFilter]:
    """What a role works on first: (the queue's title msgid, its filter)."""
    if principal.role is Role.PENDAMPING:
        return N_("Kunjungan hari ini"), cases.QueueFilter(states=VISIT_STATES, assigned_to=principal.name)
    if principal.role is Role.DINSOS:
        return N_("Antrean verifikasi"), cases.QueueFilter(states=VERIFICATION_STATES)
    if principal.role is Role.OPERATOR_DESA:
        return N_("Usulan dan sanggahan terbuka di desa/kelurahan Anda"), cases.QueueFilter()
    return N_("Semua kasus terbuka"), cases.QueueFilter()


def queue_filter(
    principal: Principal, query: QueueQuery, now: datetime
) -> tuple[str, cases.QueueFilter, dict[str, str]]:
    """(title msgid, the service's filter, errors by field as msgids) for a queue request."""
    errors: dict[str, str] = {}
    if query.state and query.state not in STATE_LABELS:
        errors["state"] = BAD_FILTER_STATE
    if query.desa and not principal.may_see_region(query.desa):
        errors["desa"] = BAD_FILTER_DESA
    title, filters = default_queue(principal)
    if query.semua:
        title, filters = N_("Semua kasus terbuka"), cases.QueueFilter()
    if query.jenis:
        filters = replace(filters, jenis=query.jenis)
    if query.state:
        filters = replace(filters, states=(query.state,))
    if query.desa:
        filters = replace(filters, kode_desa=query.desa)
    if query.terlambat:
        title, filters = N_("Kasus yang lewat tenggat"), replace(filters, overdue_at=now)
    return title, filters, errors


def state_label(jenis: str, state: str, lang: str) -> str:
    try:
        return i18n.gettext(lang, cases.workflow_of(jenis).state(state).label)
    except (KeyError, ValueError):
        return state


def case_row(case_: WorkflowCase, lang: str, now: datetime) -> dict[str, Any]:
    """A case as one line of a queue (and the head of its page)."""
    open_ = case_.closed_at is None
    late_ack = bool(open_ and case_.acknowledged_at is None and case_.ack_due_at and case_.ack_due_at < now)
    workflow = WORKFLOWS.get(case_.jenis)
    return {
        "id": case_.id,
        "nomor": case_.nomor,
        "jenis": case_.jenis,
        "jenis_label": i18n.gettext(lang, workflow.label) if workflow else case_.jenis,
        "kategori": case_.kategori,
        "state": case_.state,
        "state_label": state_label(case_.jenis, case_.state, lang),
        "kode_desa": case_.kode_desa,
        "desa": region_name(case_.kode_desa),
        "subject_nama": case_.subject_nama,
        "assigned_to": case_.assigned_to,
        "priority": case_.priority,
        "version": case_.version,
        "opened_at": case_.opened_at,
        "ack_due_at": case_.ack_due_at,
        "due_at": case_.due_at,
        "closed_at": case_.closed_at,
        "terlambat_tanggap": late_ack,
        "terlambat": bool(open_ and case_.due_at and case_.due_at < now),
        "href": f"/staf/kasus/{case_.id}",
    }


def overdue_clause(now: datetime) -> Any:
    """Open and past the acknowledgement (unacknowledged) or the resolution deadline."""
    return and_(
        WorkflowCase.closed_at.is_(None),
        or_(and_(WorkflowCase.acknowledged_at.is_(None), WorkflowCase.ack_due_at < now),
            WorkflowCase.due_at < now),
    )  # fmt: skip


def load_queue(
    session: Session, principal: Principal, query: QueueQuery, lang: str, now: datetime
) -> dict[str, Any]:
    """The queue's rows (one page, and whether more follow) and, for a dinsos, its count of SLA breaches."""
    title, filters, errors = queue_filter(principal, query, now)
    rows: list[dict[str, Any]] = []
    more = False
    if not errors:
        found = cases.queue(session, principal, filters, limit=query.limit + 1, offset=query.offset)
        more = len(found) > query.limit
        rows = [case_row(item, lang, now) for item in found[: query.limit]]
    breaches = None
    if principal.role is Role.DINSOS and not query.terlambat:
        breaches = session.scalar(
            select(func.count()).select_from(WorkflowCase)
            .where(region_clause(principal, cases.CASE), overdue_clause(now))
        )  # fmt: skip
    session.commit()
    return {"title": title, "rows": rows, "more": more, "errors": errors, "breaches": breaches}


# -- the case page ---------------------------------------------------------------------------------------------
def may_act(principal: Principal) -> bool:
    return role_has(principal.role, "case.act") and (
        principal.kind != "client" or "case.act" in principal.scopes
    )


def actions_for(principal: Principal, case_: WorkflowCase) -> list[Transition]:
    """The actions of the case's state this principal may take (the service checks again on submit)."""
    if not may_act(principal) or case_.jenis not in WORKFLOWS:
        return []
    return [
        transition
        for transition in WORKFLOWS[case_.jenis].available(case_.state)
        if principal.role in transition.roles
        and (not transition.assigned_only or principal.name == case_.assigned_to)
    ]


def fields_of(action: str) -> tuple[str, ...]:
    """The text fields a page form for ``action`` may carry (what the action requires, in any workflow)."""
    required = {name for workflow in WORKFLOWS.values() for t in workflow.transitions if t.action == action
                for name in t.requires}  # fmt: skip
    return tuple(name for name in FORM_FIELDS if name in required)


def pendamping_of(session: Session, case_: WorkflowCase) -> list[str]:
    """Usernames of the active pendamping who may see the case's village (those it can be assigned to)."""
    from dtsen.store.identity import StaffUser, StaffUserRegion

    codes = [case_.kode_prov, case_.kode_kab, case_.kode_kec, case_.kode_desa]
    return list(
        session.scalars(
            select(StaffUser.username)
            .join(StaffUserRegion, StaffUserRegion.user_id == StaffUser.id)
            .where(StaffUser.role == Role.PENDAMPING.value, StaffUser.active.is_(True),
                   StaffUserRegion.kode.in_(codes))
            .distinct()
            .order_by(StaffUser.username)
            .limit(500)
        )
    )  # fmt: skip


def _action_view(
    transition: Transition, case_: WorkflowCase, lang: str, pendamping: list[str]
) -> dict[str, Any]:
    fields = []
    for name in transition.requires:
        label = i18n.gettext(lang, FIELD_LABELS.get(name, name))
        if name in FORM_FIELDS:
            kind = (
                "select"
                if name == "pendamping" and pendamping
                else ("textarea" if name == "alasan" else "text")
            )
            fields.append({"name": name, "label": label, "kind": kind, "options": pendamping})
    visit = transition.action == "laporkan_kunjungan"
    return {
        "aksi": transition.action,
        "label": i18n.gettext(lang, transition.label),
        "wajib": list(transition.requires),
        "fields": fields,
        "formulir_lapangan": VISIT_FORM.format(id=case_.id) if visit else None,
        "form": not visit and all(name in FORM_FIELDS for name in transition.requires),
    }


def _data_rows(
    data: Mapping[str, Any] | None, lang: str
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The fields the steps recorded, as (label, text) rows, and the recorded changes as table rows."""
    rows: list[dict[str, str]] = []
    changes: list[dict[str, Any]] = []
    for name, value in sorted((data or {}).items()):
        if name == "perubahan" and isinstance(value, list):
            changes = [item for item in value if isinstance(item, Mapping)]
            continue
        if value is None or value == "":
            continue
        if isinstance(value, Mapping):
            text = "; ".join(f"{key}: {item}" for key, item in value.items())
        elif isinstance(value, list):
            text = "; ".join(str(item) for item in value)
        else:
            text = str(value)
        rows.append({"label": i18n.gettext(lang, FIELD_LABELS.get(name, name.replace("_", " "))),
                     "text": text[:2000]})  # fmt: skip
    return rows, changes


def _step_label(step: WorkflowStep, jenis: str, lang: str) -> str:
    if step.action in STEP_LABELS:
        return i18n.gettext(lang, STEP_LABELS[step.action])
    try:
        return i18n.gettext(lang, cases.workflow_of(jenis).transition(step.action).label)
    except (KeyError, ValueError):
        return step.action.replace("_", " ")


def case_view(
    session: Session, principal: Principal, case_: WorkflowCase, lang: str, now: datetime
) -> dict[str, Any]:
    """Everything the case page and its JSON twin show."""
    view = case_row(case_, lang, now)
    actions = actions_for(principal, case_)
    pendamping = pendamping_of(session, case_) if any("pendamping" in t.requires for t in actions) else []
    rows, changes = _data_rows(case_.data, lang)
    parent = session.get(WorkflowCase, case_.duplicate_of) if case_.duplicate_of else None
    view.update(
        {
            "periode": case_.periode,
            "asal": case_.asal,
            "asal_label": i18n.gettext(lang, ORIGIN_LABELS.get(case_.asal, case_.asal)),
            "id_keluarga_dtsen": case_.id_keluarga_dtsen,
            "acknowledged_at": case_.acknowledged_at,
            "updated_at": case_.updated_at,
            "duplicate_of": case_.duplicate_of,
            "duplicate_nomor": parent.nomor if parent is not None else None,
            "data": dict(case_.data or {}),
            "data_rows": rows,
            "perubahan": changes,
            "langkah": [
                {
                    "action": step.action,
                    "label": _step_label(step, case_.jenis, lang),
                    "from_state": step.from_state,
                    "from_label": state_label(case_.jenis, step.from_state, lang)
                    if step.from_state
                    else None,
                    "to_state": step.to_state,
                    "to_label": state_label(case_.jenis, step.to_state, lang),
                    "actor": step.actor,
                    "actor_role": step.actor_role,
                    "at": step.at,
                    "reason": step.reason,
                }
                for step in cases.steps_of(session, case_)
            ],
            "tindakan": [_action_view(t, case_, lang, pendamping) for t in actions],
        }
    )
    return view


def load_case(
    session: Session, principal: Principal, case_id: int, lang: str, now: datetime
) -> dict[str, Any]:
    """The case page's data (an audited read); :class:`~dtsen.workflows.cases.CaseNotFoundError` else."""
    try:
        case_ = cases.get_case(session, principal, case_id)
    except cases.CaseError:
        session.commit()  # the refused read's audit entry stays, although the answer is a 404
        raise
    view = case_view(session, principal, case_, lang, now)
    session.commit()  # the audit chain lock is held until commit: release it before rendering
    return view


@dataclass(frozen=True)
class ActionInput:
    aksi: str
    version: int | None
    fields: dict[str, Any]
    reason: str | None = None
    idempotency_key: str | None = None
    documents: tuple[str, ...] = ()


def take_action(
    session: Session, principal: Principal, case_id: int, action: ActionInput, now: datetime
) -> WorkflowCase:
    """The service's move, after the check a form needs: a version (the service checks the pendamping)."""
    if action.version is None:
        raise cases.CaseInvalidError({"version": (STALE_FORM, {})})
    return cases.act(session, principal, case_id, action.aksi, version=action.version, fields=action.fields,
                     documents=action.documents, reason=action.reason,
                     idempotency_key=action.idempotency_key, now=now)  # fmt: skip


def settle_refusal(session: Session, error: cases.CaseError) -> None:
    """After a refused move: keep what it audited (a denied read or action), drop anything else. Only an
    approval whose changes do not check fails after the move was written, and it raises CaseInvalidError,
    which audits nothing, so that one is rolled back."""
    if isinstance(error, cases.CaseInvalidError):
        session.rollback()
    else:
        session.commit()


def error_fields(error: cases.CaseError, lang: str) -> dict[str, str]:
    if not isinstance(error, cases.CaseInvalidError):
        return {}
    return {name: _t(lang, message, params) for name, (message, params) in error.errors.items()}


# -- the dashboard ---------------------------------------------------------------------------------------------
def dashboard(session: Session, principal: Principal, lang: str, now: datetime) -> dict[str, Any]:
    """Counts by workflow and state, by village (with progress and breaches) and the SLA breaches."""
    scope = region_clause(principal, cases.CASE)
    by_state = [
        {"jenis": jenis, "jenis_label": i18n.gettext(lang, WORKFLOWS[jenis].label) if jenis in WORKFLOWS else jenis,
         "state": state, "state_label": state_label(jenis, state, lang), "jumlah": int(count)}
        for jenis, state, count in session.execute(
            select(WorkflowCase.jenis, WorkflowCase.state, func.count())
            .where(scope).group_by(WorkflowCase.jenis, WorkflowCase.state)
            .order_by(WorkflowCase.jenis, WorkflowCase.state)
        )
    ]  # fmt: skip
    overdue = case((overdue_clause(now), 1), else_=0)
    closed = case((WorkflowCase.closed_at.is_not(None), 1), else_=0)
    villages = []
    for kode, total, done, late in session.execute(
        select(WorkflowCase.kode_desa, func.count(), func.sum(closed), func.sum(overdue))
        .where(scope).group_by(WorkflowCase.kode_desa).order_by(func.count().desc(), WorkflowCase.kode_desa)
        .limit(1000)
    ):  # fmt: skip
        total, done, late = int(total), int(done or 0), int(late or 0)
        villages.append({"kode": kode, "nama": region_name(kode), "jumlah": total, "selesai": done,
                         "terbuka": total - done, "terlambat": late, "kemajuan": done / total if total else 0.0})  # fmt: skip

    def count(*conditions: Any) -> int:
        return int(
            session.scalar(select(func.count()).select_from(WorkflowCase).where(scope, *conditions)) or 0
        )

    breaches = {
        "tanggap_terbuka": count(WorkflowCase.closed_at.is_(None), WorkflowCase.acknowledged_at.is_(None),
                                 WorkflowCase.ack_due_at < now),
        "tanggap_terlambat": count(WorkflowCase.acknowledged_at > WorkflowCase.ack_due_at),
        "selesai_terbuka": count(WorkflowCase.closed_at.is_(None), WorkflowCase.due_at < now),
        "selesai_terlambat": count(WorkflowCase.closed_at > WorkflowCase.due_at),
    }  # fmt: skip
    session.commit()
    for village in villages[:DASHBOARD_CHART_VILLAGES]:
        share = village["kemajuan"]
        village["chart"] = svg.probability_bar(
            share,
            _t(lang, N_("Kemajuan %(desa)s"), {"desa": str(village["nama"] or village["kode"])}),
            _t(lang, N_("%(selesai)s dari %(jumlah)s kasus selesai"),
               {"selesai": str(village["selesai"]), "jumlah": str(village["jumlah"])}),
            f"kemajuan-{village['kode']}",
        )  # fmt: skip
    return {
        "by_state": by_state,
        "villages": villages,
        "breaches": breaches,
        "total": sum(row["jumlah"] for row in by_state),
        "regions": [{"kode": kode, "nama": region_name(kode)} for kode in principal.regions],
    }


# -- routes: pages -----------------------------------------------------------------------------------------------
def _queue_query(
    jenis: str = Query("", pattern=r"^(usulan|sanggahan|verval)?$", description="Jenis kasus"),
    state: str = Query("", max_length=32, description="Status kasus"),
    desa: str = Query("", pattern=r"^(\d{10})?$", description="Kode desa/kelurahan, 10 angka"),
    terlambat: bool = Query(False, description="Hanya yang lewat tenggat"),
    semua: bool = Query(False, description="Semua kasus terbuka, bukan antrean bawaan peran"),
    limit: int = Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> QueueQuery:
    return QueueQuery(jenis=jenis, state=state, desa=desa, terlambat=terlambat, semua=semua, limit=limit,
                      offset=offset)  # fmt: skip


def _filter_choices(lang: str) -> dict[str, Any]:
    return {
        "jenis_choices": [(name, i18n.gettext(lang, workflow.label)) for name, workflow in WORKFLOWS.items()],
        "state_choices": [(name, i18n.gettext(lang, label)) for name, label in STATE_LABELS.items()],
    }


@router.get("/staf/kasus", response_class=HTMLResponse, summary="Antrean kasus")
def queue_page(
    request: Request,
    query: QueueQuery = Depends(_queue_query),
    principal: Principal = Depends(requires("case.read")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    lang = i18n.language_of(request)
    found = load_queue(session, principal, query, lang, _now(request))
    context = {
        "nav_current": "kasus",
        "title": i18n.gettext(lang, found["title"]),
        "rows": found["rows"],
        "breaches": found["breaches"],
        "query": query,
        "form_errors": {key: i18n.gettext(lang, message) for key, message in found["errors"].items()},
        "prev_href": f"/staf/kasus?{query.params(offset=max(0, query.offset - query.limit))}"
        if query.offset
        else None,
        "next_href": f"/staf/kasus?{query.params(offset=query.offset + query.limit)}"
        if found["more"]
        else None,
        "overdue_href": f"/staf/kasus?{QueueQuery(terlambat=True, semua=True).params()}",
        "desa_options": desa_options(principal, query.desa),
        "may_monitor": role_has(principal.role, "case.monitor"),
        **_filter_choices(lang),
    }
    return render(request, "staff/kasus_antrean.html", context, status_code=422 if found["errors"] else 200)


@router.get("/staf/kasus/dasbor", response_class=HTMLResponse, summary="Dasbor kasus")
def dashboard_page(
    request: Request,
    principal: Principal = Depends(requires("case.monitor")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    lang = i18n.language_of(request)
    view = dashboard(session, principal, lang, _now(request))
    overdue_href = f"/staf/kasus?{QueueQuery(terlambat=True, semua=True).params()}"
    return render(request, "staff/kasus_dasbor.html", {"board": view, "overdue_href": overdue_href})


def _case_page(
    request: Request,
    view: dict[str, Any],
    *,
    status: int = 200,
    error: str | None = None,
    form_errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, Any] | None = None,
) -> HTMLResponse:
    context = {
        "case": view,
        "error": error,
        "form_errors": dict(form_errors or {}),
        "submitted": dict(submitted or {}),
        "idempotency_key": secrets.token_urlsafe(18),
        "field_labels": {
            name: i18n.gettext(i18n.language_of(request), label) for name, label in FIELD_LABELS.items()
        },
    }
    return render(request, "staff/kasus.html", context, status_code=status)


@router.get("/staf/kasus/{case_id}", response_class=HTMLResponse, summary="Halaman kasus")
def case_page(
    request: Request,
    case_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(requires("case.read")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        view = load_case(session, principal, case_id, lang, _now(request))
    except cases.CaseError as exc:
        return error_response(request, exc.status, _t(lang, *exc.message))
    return _case_page(request, view)


def _form_action(data: Mapping[str, Any]) -> ActionInput:
    action = str(data.get("aksi") or "").strip()[:32]
    version = str(data.get("version") or "").strip()
    fields = {}
    for name in fields_of(action):
        value = str(data.get(name) or "").strip()[:2000]
        if value:
            fields[name] = value
    return ActionInput(
        aksi=action,
        version=int(version) if version.isdigit() and len(version) < 10 else None,
        fields=fields,
        reason=str(data.get("catatan") or "").strip()[:2000] or None,
        idempotency_key=str(data.get("idempotency_key") or "").strip()[:64] or None,
    )


def _act_and_load(
    session: Session, principal: Principal, case_id: int, action: ActionInput, lang: str, now: datetime
) -> tuple[cases.CaseError | None, dict[str, Any] | None]:
    """(the refusal or None, the case page's data after it, None if the case cannot be shown)."""
    try:
        take_action(session, principal, case_id, action, now)
    except cases.CaseError as exc:
        settle_refusal(session, exc)
        if isinstance(exc, cases.CaseNotFoundError):
            return exc, None
        return exc, load_case(session, principal, case_id, lang, now)
    session.commit()
    return None, None


@router.post("/staf/kasus/{case_id}/aksi", response_class=HTMLResponse, summary="Tindakan pada kasus")
async def case_action(
    request: Request,
    case_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(requires("case.act")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    data = await request.form(max_files=0, max_fields=30)
    action = _form_action(data)
    error, view = await run_in_threadpool(
        _act_and_load, session, principal, case_id, action, lang, _now(request)
    )
    if error is None:
        return RedirectResponse(f"/staf/kasus/{case_id}", status_code=303)
    message = _t(lang, *error.message)
    if view is None:
        return error_response(request, error.status, message)
    submitted = {"aksi": action.aksi, **action.fields, "catatan": action.reason or ""}
    return _case_page(request, view, status=error.status, error=message, form_errors=error_fields(error, lang),
                      submitted=submitted)  # fmt: skip


# -- routes: JSON ------------------------------------------------------------------------------------------------
class CaseSummary(BaseModel):
    id: int
    nomor: str
    jenis: str
    jenis_label: str
    kategori: str | None
    state: str
    state_label: str
    kode_desa: str
    desa: str | None
    subject_nama: str | None
    assigned_to: str | None
    priority: float
    version: int
    opened_at: datetime
    ack_due_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    terlambat_tanggap: bool = Field(description="Belum ditanggapi dan lewat batas 3x24 jam")
    terlambat: bool = Field(description="Belum selesai dan lewat tenggat penyelesaian")


class CaseList(BaseModel):
    judul: str
    kasus: list[CaseSummary]
    lanjut: bool = Field(description="Masih ada kasus berikutnya (naikkan offset)")
    limit: int
    offset: int


class CaseStepOut(BaseModel):
    action: str
    label: str
    from_state: str | None
    to_state: str
    actor: str
    actor_role: str | None
    at: datetime
    reason: str | None


class CaseActionOut(BaseModel):
    aksi: str
    label: str
    wajib: list[str] = Field(description="Isian yang wajib dikirim dalam `fields`")
    formulir_lapangan: str | None = Field(description="Halaman formulir kunjungan, untuk laporkan_kunjungan")


class CaseDetail(CaseSummary):
    periode: str
    asal: str
    id_keluarga_dtsen: str | None
    acknowledged_at: datetime | None
    updated_at: datetime
    duplicate_of: int | None
    data: dict[str, Any]
    langkah: list[CaseStepOut]
    tindakan: list[CaseActionOut]


class ActionRequest(BaseModel):
    """One action on a case, as seen at ``version``; ``fields`` holds what the action requires."""

    model_config = ConfigDict(extra="forbid")

    aksi: str = Field(pattern=r"^[a-z_]{1,32}$", description="Nama tindakan, mis. konfirmasi")
    version: int = Field(ge=1, description="Versi kasus yang terakhir dilihat")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Isian tindakan (lihat `tindakan.wajib`)"
    )
    alasan: str | None = Field(None, max_length=2000, description="Catatan atau alasan")
    dokumen: list[str] = Field(
        default_factory=list, max_length=20, description="Jenis dokumen yang dilampirkan"
    )
    idempotency_key: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{8,64}$",
                                        description="Kunci sekali pakai: kiriman ulang tidak bergerak dua kali")  # fmt: skip


def _detail(view: dict[str, Any]) -> CaseDetail:
    return CaseDetail(**{key: value for key, value in view.items() if key in CaseDetail.model_fields})


@router.get("/api/kasus", response_model=CaseList, summary="Antrean kasus (JSON)")
def queue_api(
    request: Request,
    query: QueueQuery = Depends(_queue_query),
    principal: Principal = Depends(requires("case.read")),
    session: Session = Depends(db_session),
) -> Any:
    lang = i18n.language_of(request)
    found = load_queue(session, principal, query, lang, _now(request))
    if found["errors"]:
        errors = [{"field": key, "label": key, "message": i18n.gettext(lang, message)}
                  for key, message in found["errors"].items()]  # fmt: skip
        return error_response(request, 422, errors=errors)
    return CaseList(judul=i18n.gettext(lang, found["title"]), kasus=[CaseSummary(**row) for row in found["rows"]],
                    lanjut=found["more"], limit=query.limit, offset=query.offset)  # fmt: skip


@router.get("/api/kasus/{case_id}", response_model=CaseDetail, summary="Data kasus (JSON)")
def case_api(
    request: Request,
    case_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(requires("case.read")),
    session: Session = Depends(db_session),
) -> Any:
    lang = i18n.language_of(request)
    try:
        return _detail(load_case(session, principal, case_id, lang, _now(request)))
    except cases.CaseError as exc:
        return error_response(request, exc.status, _t(lang, *exc.message))


def _act_api(
    session: Session, principal: Principal, case_id: int, action: ActionInput, lang: str, now: datetime
) -> tuple[cases.CaseError | None, dict[str, Any] | None]:
    try:
        case_ = take_action(session, principal, case_id, action, now)
    except cases.CaseError as exc:
        settle_refusal(session, exc)
        return exc, None
    view = case_view(session, principal, case_, lang, now)
    session.commit()
    return None, view


@router.post("/api/kasus/{case_id}/aksi", response_model=CaseDetail, summary="Tindakan pada kasus (JSON)")
async def case_action_api(
    request: Request,
    body: ActionRequest,
    case_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(requires("case.act")),
    session: Session = Depends(db_session),
) -> Any:
    lang = i18n.language_of(request)
    action = ActionInput(aksi=body.aksi, version=body.version, fields=dict(body.fields), reason=body.alasan,
                         idempotency_key=body.idempotency_key, documents=tuple(body.dokumen))  # fmt: skip
    error, view = await run_in_threadpool(_act_api, session, principal, case_id, action, lang, _now(request))
    if error is not None:
        errors = [
            {"field": name, "label": name, "message": text}
            for name, text in error_fields(error, lang).items()
        ]
        return error_response(request, error.status, _t(lang, *error.message), errors=errors or None)
    assert view is not None
    return _detail(view)
