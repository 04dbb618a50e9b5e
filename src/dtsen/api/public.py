"""Public citizen services (no login): Cek Status, Usul/Sanggah intake, Lacak, Siapa yang membaca data saya.

Every page here is public (see :func:`public_route`, which the authorization matrix reads) and every
form is guarded the same way, in this order: CSRF (middleware), the per-network rate limit (counted
before anything else, so malformed input counts too), the offline challenge (:mod:`dtsen.api.challenge`),
field validation, the per-NIK rate limit, then the work in :mod:`dtsen.workflows.intake` or the
registry. Rate-limit hits and spent challenges commit on their own connection, so they stay counted
whatever happens after them.

Cek Status answers a miss (unknown NIK, wrong name, a person outside the served data) with one page of
one shape and status, after the same lookups and hashing: nothing before the registry call depends on
whether the person exists, and the registry is asked exactly once either way.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dtsen.api import uploads
from dtsen.api.deps import db_session
from dtsen.api.public_answers import (
    cek_context,
    cek_status_answer,
    data_saya_answer,
    data_saya_context,
    lacak_answer,
    lacak_context,
    request_context,
    submit_answer,
)
from dtsen.web.i18n import N_
from dtsen.web.templating import render, translator
from dtsen.workflows import intake


async def public_route() -> None:
    """Marks every route of this router as public (no login) for the authorization-matrix test."""


public_route.public = True  # type: ignore[attr-defined]

router = APIRouter(tags=["publik"], dependencies=[Depends(public_route)])


# --- the region picker of the forms -------------------------------------------------------------------------


@router.get("/wilayah", response_class=JSONResponse, summary="Wilayah di bawah satu wilayah")
def region_children(
    induk: str | None = Query(None, max_length=10, pattern=r"^\d{2}(\d{2}(\d{2})?)?$"),
    session: Session = Depends(db_session),
) -> JSONResponse:
    """Provinces (no ``induk``), or the kab/kota, kecamatan or desa directly below ``induk``."""
    rows = intake.region_children(session, induk)
    return JSONResponse(
        [{"kode": kode, "nama": nama} for kode, nama in rows],
        headers={"Cache-Control": "public, max-age=3600"},
    )


# --- Cek Status ---------------------------------------------------------------------------------------------


@router.get("/cek-status", summary="Cek Status: formulir")
def cek_status_form(request: Request, session: Session = Depends(db_session)) -> Response:
    return render(request, "public/cek_status.html", cek_context(request, session, request.query_params))


@router.get("/cek", include_in_schema=False)
def cek_alias() -> RedirectResponse:
    return RedirectResponse("/cek-status", status_code=308)


@router.post("/cek-status", summary="Cek Status: hasil")
async def cek_status(request: Request, session: Session = Depends(db_session)) -> Response:
    form = await request.form(max_files=0, max_fields=40)
    return await run_in_threadpool(cek_status_answer, request, session, form)


# --- Usul / Sanggah -----------------------------------------------------------------------------------------


@router.get("/usul", summary="Usul: formulir usulan keluarga")
def usul_form(request: Request, session: Session = Depends(db_session)) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in {"prov", "kab", "kec", "desa"}}
    return render(request, "public/permintaan.html", request_context(request, session, "usulan", params))


@router.get("/sanggah", summary="Sanggah: formulir sanggahan")
def sanggah_form(request: Request, session: Session = Depends(db_session)) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in {"prov", "kab", "kec", "desa"}}
    return render(request, "public/permintaan.html", request_context(request, session, "sanggahan", params))


async def _submit(request: Request, session: Session, jenis: str) -> Response:
    _ = translator(request)
    try:
        form = await uploads.limited_request(request).form(max_files=uploads.MAX_FILES, max_fields=60)
    except uploads.BodyTooLargeError:
        return render(
            request,
            "public/permintaan.html",
            {
                **request_context(request, session, jenis, {}),
                "message": _(
                    N_("Kiriman terlalu besar: paling banyak 3 berkas, masing-masing paling besar 5 MB.")
                ),
            },
            status_code=413,
        )
    except Exception:  # too many files or fields, a broken multipart body
        return render(
            request,
            "public/permintaan.html",
            {
                **request_context(request, session, jenis, {}),
                "message": _(
                    N_("Kiriman tidak dapat dibaca: paling banyak 3 berkas. Isi formulir lalu kirim lagi.")
                ),
            },
            status_code=400,
        )
    try:
        return await run_in_threadpool(submit_answer, request, session, jenis, form)
    finally:
        await form.close()


@router.post("/usul", summary="Usul: kirim usulan keluarga")
async def usul_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    return await _submit(request, session, "usulan")


@router.post("/sanggah", summary="Sanggah: kirim sanggahan")
async def sanggah_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    return await _submit(request, session, "sanggahan")


# --- Lacak --------------------------------------------------------------------------------------------------


@router.get("/lacak", summary="Lacak: formulir")
def lacak_form(request: Request) -> Response:
    return render(request, "public/lacak.html", lacak_context(request))


@router.post("/lacak", summary="Lacak: status dan riwayat permintaan")
async def lacak(request: Request, session: Session = Depends(db_session)) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    return await run_in_threadpool(lacak_answer, request, session, form)


# --- Siapa yang membaca data saya ---------------------------------------------------------------------------


@router.get("/data-saya", summary="Siapa yang membaca data saya: formulir")
def data_saya_form(request: Request) -> Response:
    return render(request, "public/data_saya.html", data_saya_context(request))


@router.get("/siapa-membaca", include_in_schema=False)
def data_saya_alias() -> RedirectResponse:
    return RedirectResponse("/data-saya", status_code=308)


@router.post("/data-saya", summary="Siapa yang membaca data saya: riwayat akses")
async def data_saya(request: Request, session: Session = Depends(db_session)) -> Response:
    form = await request.form(max_files=0, max_fields=30)
    return await run_in_threadpool(data_saya_answer, request, session, form)
