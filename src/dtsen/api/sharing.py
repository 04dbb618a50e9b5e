"""Pages and JSON of agency access requests: filing (with the security statement), the reviewers' queue
and decision page, the request page with its BAST, extracts and their downloads.

Every rule lives in :mod:`dtsen.sharing.requests`, :mod:`dtsen.sharing.review` and
:mod:`dtsen.sharing.extracts` (who may see or act, versions, validity, audit); this module parses forms
and renders. Refusals are the service's Bahasa message at its status (403, 404, 409, 410, 415, 422), never
a 500; a request one may not see is 404 like a missing one (the attempt audited).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FilePath
from typing import Any, NoReturn

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from dtsen.api import uploads
from dtsen.api.deps import db_session
from dtsen.api.display import region_name
from dtsen.api.errors import wants_json
from dtsen.auth.deps import requires
from dtsen.auth.permissions import role_has
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal
from dtsen.sharing import extracts, review
from dtsen.sharing import requests as service
from dtsen.store.served import ServedSnapshot
from dtsen.store.sharing import AccessRequest
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import render
from dtsen.workflows.cases import CaseError, CaseInvalidError

router = APIRouter(tags=["akses"])

MAX_ID = 2**62
FILING_BODY_BYTES = uploads.MAX_FILE_BYTES + 128 * 1024  # one document and the text fields
OK_MESSAGES: dict[str, str] = {
    "diajukan": N_("Permintaan akses diajukan. Petugas BPS akan menelaahnya."),
    "tindakan": N_("Langkah telaah dicatat."),
    "ekstrak": N_("Ekstrak data dibuat."),
}
EXPIRED_TITLE = N_("Masa berlaku akses berakhir")
ACTION_LABELS: dict[str, str] = {
    transition.action: transition.label for transition in service.AKSES.transitions
}
RequestId = Path(..., ge=1, le=MAX_ID, description="Nomor urut permintaan akses")
ExtractId = Path(..., ge=1, le=MAX_ID, description="Nomor urut ekstrak")


# -- helpers ----------------------------------------------------------------------------------------------
def _say(lang: str, error: CaseError) -> str:
    return i18n.say(lang, *error.message)


def _fields(lang: str, error: CaseError) -> dict[str, str]:
    if isinstance(error, CaseInvalidError):
        return {name: i18n.say(lang, *message) for name, message in error.errors.items()}
    return {}


def _refuse(session: Session, error: CaseError, lang: str) -> NoReturn:
    """The refusal as the shared error page / JSON error; its audit entry is kept (committed) first."""
    session.commit()
    raise HTTPException(error.status, detail=_say(lang, error))


def _expired_page(
    request: Request, session: Session, principal: Principal, error: CaseError, request_id: int
) -> Response:
    """A refusal after ``valid_until`` as the shared error page with its own title (410 has no generic
    one) and a way back to the request; JSON clients get the shared JSON error."""
    lang = i18n.language_of(request)
    if wants_json(request):
        _refuse(session, error, lang)
    session.commit()
    base = "/staf/akses" if service.is_reviewer(principal) else "/akses"
    context = {
        "status": error.status,
        "code": "akses_kedaluwarsa",
        "title": i18n.gettext(lang, EXPIRED_TITLE),
        "message": _say(lang, error),
        "errors": [],
        "back_link": f"{base}/{request_id}",
    }
    return render(request, "errors/error.html", context, status_code=error.status)


def _moment(text: Any) -> datetime | None:
    """A stored ISO time (review history) as a datetime for the page's date filter (WIB, labelled)."""
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _expire_due(request: Request, session: Session) -> None:
    """Requests past their validity become ``kedaluwarsa`` before a list or page shows them, so the pages
    never wait for the daily ``dtsen sharing expire`` (access itself is checked on every use anyway)."""
    if review.expire_due(session, clock_of(request.app)()):
        session.commit()


def _json_refusal(session: Session, error: CaseError, lang: str) -> JSONResponse:
    session.commit()
    return JSONResponse(
        {"detail": _say(lang, error), "fields": _fields(lang, error)}, status_code=error.status
    )


def _data_dir(request: Request) -> FilePath:
    override = getattr(request.app.state, "snapshot_data_dir", None)
    if override is not None:
        return FilePath(override)
    return FilePath(request.app.state.settings.data_dir)


def _extract_root(request: Request) -> FilePath:
    override = getattr(request.app.state, "extract_dir", None)
    if override is not None:
        return FilePath(override)
    return extracts.extracts_root(FilePath(request.app.state.settings.data_dir))


def _upload_root(request: Request) -> FilePath:
    override = getattr(request.app.state, "upload_dir", None)
    if override is not None:
        return FilePath(override)
    return uploads.upload_root(FilePath(request.app.state.settings.data_dir))


def _secret(request: Request) -> str:
    return str(request.app.state.settings.resolved_secret_key())


def _summary(row: AccessRequest) -> dict[str, Any]:
    return {
        "id": row.id,
        "nomor": row.nomor,
        "instansi": row.instansi,
        "pemohon": row.pemohon,
        "level": row.level,
        "state": row.state,
        "state_label": service.STATE_LABELS.get(row.state, row.state),
        "regions": list(row.regions or []),
        "fields": list(row.fields or []),
        "programs": list(row.programs or []),
        "periode": row.periode,
        "k_min": row.k_min,
        "tautan": row.tautan,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "version": row.version,
        "alasan": row.alasan,
        "bast_sha256": row.bast_sha256,
        "created_at": row.created_at.isoformat(),
    }


# -- filing ----------------------------------------------------------------------------------------------
async def _file(request: Request, session: Session, principal: Principal) -> tuple[Any, dict[str, Any]]:
    """Parse the multipart filing and file it: (the request or the error, the form as typed)."""
    try:
        form = await uploads.limited_request(request, FILING_BODY_BYTES).form(max_files=1, max_fields=400)
    except uploads.BodyTooLargeError:
        return service.StatementRejectedError(413, "too_large"), {}
    typed = {
        name: str(form.get(name) or "")
        for name in (
            "instansi",
            "tujuan",
            "dasar_hukum",
            "level",
            "periode",
            "valid_from",
            "valid_until",
            "k_min",
            "tautan",
        )
    }
    lists = {
        name: [str(v) for v in form.getlist(name) if isinstance(v, str)]
        for name in ("regions", "fields", "programs")
    }
    upload = form.get("pernyataan")
    data, filename = None, None
    if isinstance(upload, UploadFile) and upload.filename:
        upload.file.seek(0)
        data, filename = upload.file.read(uploads.MAX_FILE_BYTES + 1), upload.filename
    await form.close()
    filing = service.RequestInput(**typed, **lists)

    def run() -> Any:
        try:
            return service.file_request(
                session,
                principal,
                filing,
                data,
                filename,
                root=_upload_root(request),
                now=clock_of(request.app)(),
            )
        except CaseError as exc:
            return exc

    result = await run_in_threadpool(run)
    return result, {**typed, **{name: ", ".join(values) for name, values in lists.items()}}


def _list_context(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    _expire_due(request, session)
    rows = [_summary(row) for row in service.list_requests(session, principal)]
    session.commit()
    return {
        "requests": rows,
        "levels": service.LEVEL_LABELS,
        "field_names": service.FIELDS,
        "nav_current": "akses",
    }


@router.get("/akses", response_class=HTMLResponse, summary="Permintaan akses data instansi")
def access_list(
    request: Request,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    context = _list_context(request, session, principal)
    context.update({"form": {}, "form_errors": {}, "message": None})
    return render(request, "sharing/akses.html", context)


@router.post("/akses", response_class=HTMLResponse, summary="Ajukan permintaan akses data")
async def access_file(
    request: Request,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    result, typed = await _file(request, session, principal)
    if isinstance(result, AccessRequest):
        session.commit()
        return RedirectResponse(f"/akses/{result.id}?ok=diajukan", status_code=303)

    def refused() -> Response:
        if result.status in (403, 404):
            _refuse(session, result, lang)
        session.commit()
        context = _list_context(request, session, principal)
        context.update({"form": typed, "form_errors": _fields(lang, result), "message": _say(lang, result)})
        return render(request, "sharing/akses.html", context, status_code=result.status)

    return await run_in_threadpool(refused)


@router.post("/api/akses", summary="Ajukan permintaan akses data (JSON)", status_code=201)
async def api_access_file(
    request: Request,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> JSONResponse:
    lang = i18n.language_of(request)
    result, _typed = await _file(request, session, principal)
    if isinstance(result, AccessRequest):
        body = _summary(result)
        session.commit()
        return JSONResponse(body, status_code=201)
    return await run_in_threadpool(_json_refusal, session, result, lang)


@router.get("/api/akses", summary="Permintaan akses milik instansi (JSON)")
def api_access_list(
    request: Request,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    _expire_due(request, session)
    rows = [_summary(row) for row in service.list_requests(session, principal)]
    session.commit()
    return {"requests": rows}


# -- one request ------------------------------------------------------------------------------------------
def _detail_context(
    request: Request, session: Session, principal: Principal, request_id: int, lang: str
) -> dict[str, Any]:
    _expire_due(request, session)
    try:
        row = service.get_request(session, principal, request_id)
    except CaseError as exc:
        _refuse(session, exc, lang)
    reviewer = service.is_reviewer(principal)
    day = service.today(clock_of(request.app)())
    usable = row.state == "disetujui" and row.valid_from <= day <= row.valid_until
    names = session.scalar(select(ServedSnapshot.programs).where(ServedSnapshot.is_current)) or {}
    context = {
        "req": _summary(row),
        "region_labels": [f"{region_name(kode)} ({kode})" for kode in row.regions or []],
        "program_labels": [f"{names.get(code, code)} ({code})" for code in row.programs or []],
        "reviews": [
            {
                **step,
                "label": ACTION_LABELS.get(str(step.get("action")), ""),
                "moment": _moment(step.get("at")),
            }
            for step in row.reviews or []
        ],
        "level_label": service.LEVEL_LABELS.get(row.level, row.level),
        "field_labels": [service.FIELDS.get(name, name) for name in row.fields or []],
        "extracts": [
            {**extracts.describe(item), "created": item.created_at}
            for item in extracts.list_extracts(session, row.id)
        ],
        "actions": [t for t in service.AKSES.available(row.state) if principal.role in t.roles]
        if reviewer
        else [],
        "can_extract": role_has(principal.role, "access.extract") and usable,
        "can_download": role_has(principal.role, "access.extract") and usable,
        "usable": usable,
        "base": "/staf/akses" if reviewer else "/akses",
    }
    session.commit()
    return context


def _detail(
    request: Request,
    session: Session,
    principal: Principal,
    request_id: int,
    refused: CaseError | None = None,
) -> Response:
    lang = i18n.language_of(request)
    if refused is not None:
        if refused.status == 410:
            return _expired_page(request, session, principal, refused, request_id)
        if refused.status in (403, 404):
            _refuse(session, refused, lang)
        session.commit()
    context = _detail_context(request, session, principal, request_id, lang)
    ok = request.query_params.get("ok", "")
    context.update(
        {
            "ok_message": i18n.gettext(lang, OK_MESSAGES[ok])
            if ok in OK_MESSAGES and refused is None
            else None,
            "message": _say(lang, refused) if refused else None,
            "form_errors": _fields(lang, refused) if refused else {},
        }
    )
    return render(request, "sharing/permintaan.html", context, status_code=refused.status if refused else 200)


@router.get("/akses/{request_id}", response_class=HTMLResponse, summary="Halaman permintaan akses")
def access_page(
    request: Request,
    request_id: int = RequestId,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> Response:
    return _detail(request, session, principal, request_id)


@router.get("/api/akses/{request_id}", summary="Permintaan akses dan ekstraknya (JSON)")
def api_access_get(
    request: Request,
    request_id: int = RequestId,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> Any:
    lang = i18n.language_of(request)
    _expire_due(request, session)
    try:
        row = service.get_request(session, principal, request_id)
    except CaseError as exc:
        return _json_refusal(session, exc, lang)
    body = _summary(row)
    body["reviews"] = list(row.reviews or [])
    body["extracts"] = [extracts.describe(item) for item in extracts.list_extracts(session, row.id)]
    session.commit()
    return body


def _bast(request: Request, session: Session, principal: Principal, request_id: int) -> Response:
    lang = i18n.language_of(request)
    try:
        row, pdf = review.bast_pdf(session, principal, request_id, root=_upload_root(request), lang=lang)
    except CaseError as exc:
        _refuse(session, exc, lang)
    session.commit()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="BAST-{row.nomor}.pdf"'},
    )


@router.get(
    "/akses/{request_id}/bast.pdf",
    response_class=Response,
    summary="BAST permintaan akses (PDF)",
    responses={200: {"content": {"application/pdf": {}}}},
)
def access_bast(
    request: Request,
    request_id: int = RequestId,
    principal: Principal = Depends(requires("access.request")),
    session: Session = Depends(db_session),
) -> Response:
    return _bast(request, session, principal, request_id)


# -- extracts ------------------------------------------------------------------------------------------------
def _extract(
    request: Request, session: Session, principal: Principal, request_id: int, fmt: str, wilayah: str
) -> Any:
    try:
        return extracts.create_extract(
            session,
            principal,
            request_id,
            fmt.strip().lower(),
            data_dir=_data_dir(request),
            root=_extract_root(request),
            secret=_secret(request),
            region_level=wilayah.strip() or "kec",
            now=clock_of(request.app)(),
        )
    except CaseError as exc:
        return exc


@router.post("/akses/{request_id}/ekstrak", response_class=HTMLResponse, summary="Buat ekstrak data")
def access_extract(
    request: Request,
    request_id: int = RequestId,
    format: str = Form("csv", max_length=16),
    wilayah: str = Form("kec", max_length=8),
    principal: Principal = Depends(requires("access.extract")),
    session: Session = Depends(db_session),
) -> Response:
    result = _extract(request, session, principal, request_id, format, wilayah)
    if isinstance(result, CaseError):
        return _detail(request, session, principal, request_id, result)
    session.commit()
    target = "/staf/akses" if service.is_reviewer(principal) else "/akses"
    return RedirectResponse(f"{target}/{request_id}?ok=ekstrak", status_code=303)


@router.post("/api/akses/{request_id}/ekstrak", summary="Buat ekstrak data (JSON)", status_code=201)
def api_access_extract(
    request: Request,
    request_id: int = RequestId,
    format: str = Form("csv", max_length=16),
    wilayah: str = Form("kec", max_length=8),
    principal: Principal = Depends(requires("access.extract")),
    session: Session = Depends(db_session),
) -> JSONResponse:
    result = _extract(request, session, principal, request_id, format, wilayah)
    if isinstance(result, CaseError):
        return _json_refusal(session, result, i18n.language_of(request))
    body = extracts.describe(result)
    session.commit()
    return JSONResponse(body, status_code=201)


@router.get(
    "/akses/{request_id}/ekstrak/{extract_id}",
    response_class=FileResponse,
    summary="Unduh ekstrak",
    responses={200: {"content": {"text/csv": {}}}},
)
def access_download(
    request: Request,
    request_id: int = RequestId,
    extract_id: int = ExtractId,
    principal: Principal = Depends(requires("access.extract")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        req, extract, path = extracts.download(
            session,
            principal,
            request_id,
            extract_id,
            root=_extract_root(request),
            now=clock_of(request.app)(),
        )
    except CaseError as exc:
        if exc.status == 410:
            return _expired_page(request, session, principal, exc, request_id)
        _refuse(session, exc, lang)
    session.commit()
    name = f"{req.nomor}-{extract.id}.{extract.format}"
    return FileResponse(path, media_type=extracts.MEDIA_TYPES[extract.format], filename=name)


# -- the reviewers ------------------------------------------------------------------------------------------
@router.get("/staf/akses", response_class=HTMLResponse, summary="Antrean telaah permintaan akses")
def review_queue(
    request: Request,
    principal: Principal = Depends(requires("access.review")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    _expire_due(request, session)
    rows = [_summary(row) for row in service.list_requests(session, principal, queue=True)]
    session.commit()
    return render(request, "sharing/antrean.html", {"requests": rows, "nav_current": "telaah_akses"})


@router.get("/api/staf/akses", summary="Antrean telaah permintaan akses (JSON)")
def api_review_queue(
    request: Request,
    principal: Principal = Depends(requires("access.review")),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    _expire_due(request, session)
    rows = [_summary(row) for row in service.list_requests(session, principal, queue=True)]
    session.commit()
    return {"requests": rows}


@router.get("/staf/akses/{request_id}", response_class=HTMLResponse, summary="Telaah permintaan akses")
def review_page(
    request: Request,
    request_id: int = RequestId,
    principal: Principal = Depends(requires("access.review")),
    session: Session = Depends(db_session),
) -> Response:
    return _detail(request, session, principal, request_id)


@router.post("/staf/akses/{request_id}/tindakan", response_class=HTMLResponse, summary="Langkah telaah")
def review_act(
    request: Request,
    request_id: int = RequestId,
    tindakan: str = Form("", max_length=32),
    catatan: str = Form("", max_length=4000),
    alasan: str = Form("", max_length=4000),
    version: int = Form(..., ge=1, le=MAX_ID),
    principal: Principal = Depends(requires("access.review")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        review.act(
            session,
            principal,
            request_id,
            tindakan,
            version=version,
            fields={"catatan": catatan, "alasan": alasan},
            root=_upload_root(request),
            lang=lang,
            now=clock_of(request.app)(),
        )
    except CaseError as exc:
        return _detail(request, session, principal, request_id, exc)
    session.commit()
    return RedirectResponse(f"/staf/akses/{request_id}?ok=tindakan", status_code=303)


@router.get(
    "/staf/akses/{request_id}/bast.pdf",
    response_class=Response,
    summary="BAST (PDF), telaah",
    responses={200: {"content": {"application/pdf": {}}}},
)
def review_bast(
    request: Request,
    request_id: int = RequestId,
    principal: Principal = Depends(requires("access.review")),
    session: Session = Depends(db_session),
) -> Response:
    return _bast(request, session, principal, request_id)
