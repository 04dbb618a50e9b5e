"""Staff pages and API for workflow cases: the queue of one's regions (what a role works on first), the case
page with its history and the actions its state offers this user, and the kab/kota dashboard; JSON twins
under ``/api/kasus`` for agency and mobile clients.

Every rule lives in the service layer (:mod:`dtsen.workflows.cases`, :mod:`dtsen.workflows.moves`):
scoping, who may take which action, required fields, the version check, idempotency and the audit trail.
This module only parses input, picks a role's default queue, decides which action forms to show and
renders; a refused action re-renders the case page with the service's Bahasa message and status (404, 403,
409, 422), never a 500.

**Default queues.** A pendamping opens on the visits assigned to them (``kunjungan``, ``ditugaskan``),
highest priority first: a list to work through in the field, no map needed. A desa operator sees the
village's open cases, a dinsos the cases waiting for its verification (``verifikasi``, ``dikonfirmasi``,
``dikunjungi``) with the SLA breaches counted on top; ``semua=1`` drops the role's default.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api.case_page import (
    FIELD_LABELS,
    ActionInput,
    case_view,
    error_fields,
    fields_of,
    load_case,
    settle_refusal,
    take_action,
)
from dtsen.api.case_queue import MAX_PAGE_SIZE, PAGE_SIZE, STATE_LABELS, QueueQuery, dashboard, load_queue
from dtsen.api.deps import db_session
from dtsen.api.display import desa_options
from dtsen.api.errors import error_response
from dtsen.auth.deps import requires
from dtsen.auth.permissions import role_has
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal
from dtsen.web import i18n
from dtsen.web.templating import render
from dtsen.workflows import cases
from dtsen.workflows.machine import WORKFLOWS

router = APIRouter(tags=["kasus"])
_t = i18n.say


def _now(request: Request) -> datetime:
    return clock_of(request.app)()


# -- routes: pages -------------------------------------------------------------------------------------------
def _queue_query(
    jenis: str = Query("", pattern=r"^(usulan|sanggahan|verval)?$", description="Jenis kasus"),
    state: str = Query("", max_length=32, description="Status kasus"),
    desa: str = Query("", pattern=r"^(\d{10})?$", description="Kode desa/kelurahan, 10 angka"),
    terlambat: bool = Query(False, description="Hanya yang lewat tenggat"),
    semua: bool = Query(False, description="Semua kasus terbuka, bukan antrean bawaan peran"),
    limit: int = Query(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> QueueQuery:
    return QueueQuery(
        jenis=jenis, state=state, desa=desa, terlambat=terlambat, semua=semua, limit=limit, offset=offset
    )


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
    return _case_page(
        request,
        view,
        status=error.status,
        error=message,
        form_errors=error_fields(error, lang),
        submitted=submitted,
    )


# -- routes: JSON --------------------------------------------------------------------------------------------
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
    idempotency_key: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Kunci sekali pakai: kiriman ulang tidak bergerak dua kali",
    )


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
        errors = [
            {"field": key, "label": key, "message": i18n.gettext(lang, message)}
            for key, message in found["errors"].items()
        ]
        return error_response(request, 422, errors=errors)
    return CaseList(
        judul=i18n.gettext(lang, found["title"]),
        kasus=[CaseSummary(**row) for row in found["rows"]],
        lanjut=found["more"],
        limit=query.limit,
        offset=query.offset,
    )


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
    action = ActionInput(
        aksi=body.aksi,
        version=body.version,
        fields=dict(body.fields),
        reason=body.alasan,
        idempotency_key=body.idempotency_key,
        documents=tuple(body.dokumen),
    )
    error, view = await run_in_threadpool(_act_api, session, principal, case_id, action, lang, _now(request))
    if error is not None:
        errors = [
            {"field": name, "label": name, "message": text}
            for name, text in error_fields(error, lang).items()
        ]
        return error_response(request, error.status, _t(lang, *error.message), errors=errors or None)
    assert view is not None
    return _detail(view)
