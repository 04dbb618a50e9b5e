"""Staff pages of the musyawarah desa: the village's sessions, opening one, its agenda with a decision form
per case, the attendance, the berita acara PDF, the signed scan and closing.

Every rule lives in :mod:`dtsen.workflows.musdes` and :mod:`dtsen.workflows.berita_acara` (scope, who may
manage, versions, what closing needs, the audit trail); this module parses forms and renders. A refused
step re-renders the page with the service's Bahasa message at its status (409, 415, 422, ...); a session
outside one's regions is the shared 404 page (the attempt audited), never a 500. Successful steps redirect
back to the session page (POST-redirect-GET), so a reload never submits a decision twice.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path as FilePath
from typing import Any, NoReturn

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from dtsen.api import uploads
from dtsen.api.deps import db_session
from dtsen.auth.deps import requires
from dtsen.auth.permissions import role_has
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import render
from dtsen.workflows import berita_acara
from dtsen.workflows import musdes as service
from dtsen.workflows.cases import CaseError, CaseInvalidError, Message
from dtsen.workflows.machine import WORKFLOWS

router = APIRouter(tags=["musdes"])

ATTENDANCE_ROWS = 10  # empty rows offered on the forms (more can be added after saving)
MAX_ID = 2**62
SCAN_BODY_BYTES = uploads.MAX_FILE_BYTES + 64 * 1024  # one file and the few text fields
OK_MESSAGES: dict[str, str] = {
    "dibuka": N_("Musyawarah desa dibuka. Agenda berisi usulan yang sudah dikunjungi."),
    "keputusan": N_("Keputusan dicatat."),
    "hadir": N_("Daftar hadir disimpan."),
    "pindaian": N_("Pindaian berita acara diunggah."),
    "ditutup": N_("Musyawarah desa ditutup."),
}
STATUS_LABELS: dict[str, str] = {"dibuka": N_("Dibuka"), "ditutup": N_("Ditutup")}
STATE_LABELS: dict[str, str] = {
    state.name: state.label for workflow in WORKFLOWS.values() for state in workflow.states
}


# -- helpers ----------------------------------------------------------------------------------------------
def _say(lang: str, message: Message) -> str:
    return i18n.say(lang, *message)


def _refuse(session: Session, error: CaseError, lang: str) -> NoReturn:
    """A 403/404 as the shared error page; the refusal's audit entry is kept (committed) first."""
    session.commit()
    raise HTTPException(error.status, detail=_say(lang, error.message))


def _settle(session: Session, error: CaseError, lang: str) -> dict[str, Any]:
    """After a refused step (its writes were in a savepoint, already undone): keep the audit entries of
    refusals, answer 403/404 with the error page, and give the page the message and field errors."""
    if error.status in (403, 404):
        _refuse(session, error, lang)
    session.commit()
    fields = (
        {name: _say(lang, message) for name, message in error.errors.items()}
        if isinstance(error, CaseInvalidError)
        else {}
    )
    return {"message": _say(lang, error.message), "fields": fields}


def _now(request: Request) -> Any:
    return clock_of(request.app)()


def _upload_root(request: Request) -> FilePath:
    """``data_dir/uploads`` (``app.state.upload_dir`` overrides it, as for the citizens' documents)."""
    override = getattr(request.app.state, "upload_dir", None)
    if override is not None:
        return FilePath(override)
    from dtsen.config import get_settings

    settings = getattr(request.app.state, "settings", None) or get_settings()
    return uploads.upload_root(FilePath(settings.data_dir))


def _attendance(names: list[str], roles: list[str]) -> list[dict[str, str]]:
    width = max(len(names), len(roles))
    names, roles = names + [""] * (width - len(names)), roles + [""] * (width - len(roles))
    return [{"nama": nama, "unsur": unsur} for nama, unsur in zip(names, roles, strict=True)][:500]


def _session_row(row: Any) -> dict[str, Any]:
    from dtsen.api.display import region_name

    return {
        "id": row.id,
        "nomor": row.nomor,
        "periode": row.periode,
        "kode_desa": row.kode_desa,
        "desa": region_name(row.kode_desa),
        "status": row.status,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "tanggal": row.tanggal,
        "tempat": row.tempat,
        "pimpinan": row.pimpinan,
        "closed_at": row.closed_at,
    }


# -- the list and opening ------------------------------------------------------------------------------------
def _list_context(session: Session, principal: Principal) -> dict[str, Any]:
    from dtsen.api.display import region_name

    sessions = [_session_row(row) for row in service.list_sessions(session, principal)]
    villages = []
    if role_has(principal.role, "musdes.manage"):
        for kode in principal.regions:
            if len(kode) != 10:
                continue
            current = service.open_session_of(session, kode)
            villages.append(
                {
                    "kode": kode,
                    "nama": region_name(kode),
                    "terbuka": _session_row(current) if current is not None else None,
                    "menunggu": len(service.waiting_cases(session, kode)),
                }
            )
    session.commit()
    return {"sessions": sessions, "villages": villages, "attendance_rows": ATTENDANCE_ROWS}


@router.get("/staf/musdes", response_class=HTMLResponse, summary="Musyawarah desa")
def musdes_list(
    request: Request,
    principal: Principal = Depends(requires("musdes.read")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    context = _list_context(session, principal)
    context.update({"form": {}, "form_errors": {}, "message": None})
    return render(request, "staff/musdes.html", context)


@router.post("/staf/musdes", response_class=HTMLResponse, summary="Buka musyawarah desa")
def musdes_open(
    request: Request,
    desa: str = Form("", max_length=20),
    tanggal: str = Form("", max_length=20),
    tempat: str = Form("", max_length=400),
    pimpinan: str = Form("", max_length=400),
    hadir_nama: list[str] = Form([]),
    hadir_unsur: list[str] = Form([]),
    principal: Principal = Depends(requires("musdes.manage")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    kode = desa.strip() or next((code for code in principal.regions if len(code) == 10), "")
    attendance = _attendance(hadir_nama, hadir_unsur)
    form = {"desa": kode, "tanggal": tanggal, "tempat": tempat, "pimpinan": pimpinan, "hadir": attendance}
    try:
        day = date.fromisoformat(tanggal.strip())
    except ValueError:
        error: CaseError = CaseInvalidError(
            {"tanggal": (N_("Tuliskan tanggal musyawarah (hari/bulan/tahun)."), {})}
        )
    else:
        try:
            opened = service.open_session(
                session, principal, kode, day, tempat, pimpinan, attendance, now=_now(request)
            )
        except CaseError as exc:
            error = exc
        else:
            return RedirectResponse(f"/staf/musdes/{opened.id}?ok=dibuka", status_code=303)
    settled = _settle(session, error, lang)
    context = _list_context(session, principal)
    context.update({"form": form, "form_errors": settled["fields"], "message": settled["message"]})
    return render(request, "staff/musdes.html", context, status_code=error.status)


# -- one session ---------------------------------------------------------------------------------------------
def _detail_context(session: Session, principal: Principal, musdes_id: int, lang: str) -> dict[str, Any]:
    """Everything the session page shows (the read audited once, as the agenda names people)."""
    try:
        musdes = service.get_session(session, principal, musdes_id, purpose="musdes")
    except CaseError as exc:
        _refuse(session, exc, lang)
    items = [
        {
            "case_id": row.case.id,
            "nomor": row.case.nomor,
            "nama": row.case.subject_nama,
            "keluarga": row.case.id_keluarga_dtsen,
            "state": STATE_LABELS.get(row.case.state, row.case.state),
            "keputusan": row.item.keputusan,
            "keputusan_label": service.DECISION_LABELS.get(row.item.keputusan or ""),
            "catatan": row.item.catatan,
            "final": row.item.decided and row.item.keputusan in service.CASE_ACTIONS,
        }
        for row in service.agenda(session, musdes)
    ]
    hadir = list(musdes.hadir or [])
    context = {
        "musdes": _session_row(musdes),
        "version": musdes.version,
        "wilayah": berita_acara.region_names(session, musdes.kode_desa),
        "items": items,
        "undecided": sum(1 for item in items if not item["keputusan"]),
        "hadir": hadir,
        "hadir_form": hadir + [{"nama": "", "unsur": ""}] * 3,
        "berita_acara_ready": bool(musdes.berita_acara_sha256),
        "berita_acara_sha256": musdes.berita_acara_sha256,
        "scan_sha256": musdes.scan_sha256,
        "scan_mime": musdes.scan_mime,
        "can_manage": role_has(principal.role, "musdes.manage") and musdes.status == "dibuka",
        "opened_by": musdes.opened_by,
        "closed_by": musdes.closed_by,
    }
    session.commit()  # the audit chain lock is held until commit: release it before rendering
    return context


def _detail(
    request: Request,
    session: Session,
    principal: Principal,
    musdes_id: int,
    refused: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = i18n.language_of(request)
    context = _detail_context(session, principal, musdes_id, lang)
    ok = request.query_params.get("ok", "")
    context.update(
        {
            "ok_message": i18n.gettext(lang, OK_MESSAGES[ok])
            if ok in OK_MESSAGES and refused is None
            else None,
            "message": (refused or {}).get("message"),
            "form_errors": (refused or {}).get("fields", {}),
        }
    )
    return render(request, "staff/musdes_sesi.html", context, status_code=status_code)


def _done(musdes_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/staf/musdes/{musdes_id}?ok={what}", status_code=303)


MusdesId = Path(..., ge=1, le=MAX_ID, description="Nomor urut musyawarah desa")


@router.get("/staf/musdes/{musdes_id}", response_class=HTMLResponse, summary="Halaman musyawarah desa")
def musdes_page(
    request: Request,
    musdes_id: int = MusdesId,
    principal: Principal = Depends(requires("musdes.read")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    return _detail(request, session, principal, musdes_id)


@router.post("/staf/musdes/{musdes_id}/keputusan", response_class=HTMLResponse, summary="Catat keputusan")
def musdes_decide(
    request: Request,
    musdes_id: int = MusdesId,
    kasus: int = Form(..., ge=1, le=MAX_ID),
    keputusan: str = Form("", max_length=16),
    catatan: str = Form("", max_length=4000),
    version: int = Form(..., ge=1, le=MAX_ID),
    principal: Principal = Depends(requires("musdes.manage")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        service.decide_item(
            session, principal, musdes_id, kasus, keputusan, catatan, version, now=_now(request)
        )
    except CaseError as exc:
        return _detail(request, session, principal, musdes_id, _settle(session, exc, lang), exc.status)
    return _done(musdes_id, "keputusan")


@router.post("/staf/musdes/{musdes_id}/hadir", response_class=HTMLResponse, summary="Simpan daftar hadir")
def musdes_attendance(
    request: Request,
    musdes_id: int = MusdesId,
    hadir_nama: list[str] = Form([]),
    hadir_unsur: list[str] = Form([]),
    version: int = Form(..., ge=1, le=MAX_ID),
    principal: Principal = Depends(requires("musdes.manage")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        service.update_attendance(
            session, principal, musdes_id, _attendance(hadir_nama, hadir_unsur), version
        )
    except CaseError as exc:
        return _detail(request, session, principal, musdes_id, _settle(session, exc, lang), exc.status)
    return _done(musdes_id, "hadir")


@router.get(
    "/staf/musdes/{musdes_id}/berita-acara.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="Berita acara musyawarah desa (PDF)",
)
def musdes_minutes(
    request: Request,
    musdes_id: int = MusdesId,
    principal: Principal = Depends(requires("musdes.read")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        pdf = berita_acara.render_berita_acara(session, principal, musdes_id, lang=lang)
    except CaseError as exc:
        _refuse(session, exc, lang)
    name = f"berita-acara-{musdes_id}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"content-disposition": f'attachment; filename="{name}"'}
    )


@router.post("/staf/musdes/{musdes_id}/pindaian", response_class=HTMLResponse, summary="Unggah pindaian")
async def musdes_scan(
    request: Request,
    musdes_id: int = MusdesId,
    principal: Principal = Depends(requires("musdes.manage")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    error: CaseError | None = None
    try:
        form = await uploads.limited_request(request, SCAN_BODY_BYTES).form(max_files=1, max_fields=10)
    except uploads.BodyTooLargeError:
        error = berita_acara.ScanRejectedError(413, "too_large")
    else:
        upload, version = form.get("berkas"), str(form.get("version") or "")
        if not isinstance(upload, UploadFile) or not upload.filename:
            error = CaseInvalidError({"berkas": (N_("Pilih berkas pindaian berita acara."), {})})
        elif not version.isdigit() or not 1 <= int(version) <= MAX_ID:
            error = CaseInvalidError({"version": (N_("Muat ulang halaman lalu coba lagi."), {})})
        else:
            upload.file.seek(0)
            data = upload.file.read(uploads.MAX_FILE_BYTES + 1)
            try:
                await run_in_threadpool(
                    berita_acara.upload_scan,
                    session,
                    principal,
                    musdes_id,
                    data,
                    upload.filename,
                    root=_upload_root(request),
                    version=int(version),
                )
            except CaseError as exc:
                error = exc
        await form.close()
    if error is None:
        return _done(musdes_id, "pindaian")

    def refused() -> Response:
        assert error is not None
        return _detail(request, session, principal, musdes_id, _settle(session, error, lang), error.status)

    return await run_in_threadpool(refused)


@router.post("/staf/musdes/{musdes_id}/tutup", response_class=HTMLResponse, summary="Tutup musyawarah desa")
def musdes_close(
    request: Request,
    musdes_id: int = MusdesId,
    version: int = Form(..., ge=1, le=MAX_ID),
    principal: Principal = Depends(requires("musdes.manage")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        service.close_session(session, principal, musdes_id, version, now=_now(request))
    except CaseError as exc:
        return _detail(request, session, principal, musdes_id, _settle(session, exc, lang), exc.status)
    return _done(musdes_id, "ditutup")
