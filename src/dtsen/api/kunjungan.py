"""The pendamping's field form (home visit) and the dinsos' visit plan.

* ``GET /staf/kunjungan/{case_id}``: a phone-first form for the pendamping the visit is assigned to
  (another pendamping 403, a case outside one's villages 404, both by the service's rules and audited):
  the housing as served, preselected; assets; each member present/dead/moved; new members; photos (the
  phone's camera); the position (``navigator.geolocation``); notes. Hidden: the case version, the CSRF
  token and an idempotency key made once per form.
* ``POST /staf/kunjungan/{case_id}`` (multipart): checks the fields, stores the photos through
  :mod:`dtsen.api.uploads` (type by content, size cap, metadata and GPS tags stripped), turns what
  differs from the served values into ``perubahan`` (:func:`dtsen.workflows.verval.observed_changes`)
  and reports the visit (``laporkan_kunjungan``) with the form's key: the same form sent twice (a
  retry after a lost answer, the offline queue) moves the case once and answers the same.
* **Offline.** ``static/js/kunjungan.js`` sends the form with ``fetch``; with no signal it keeps the form
  (text and photos) in the phone's IndexedDB and sends it, with the same key, when the signal is back.
  Without JavaScript the form posts normally.
* ``GET``/``POST /staf/verval/rencana``: the dinsos opens this period's ground checks for their kab/kota
  (:func:`dtsen.workflows.verval.plan_assignments`).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from dtsen.api import uploads
from dtsen.api.deps import db_session
from dtsen.api.display import region_name
from dtsen.api.errors import error_response, wants_json
from dtsen.auth.deps import requires
from dtsen.auth.scope import Principal
from dtsen.store.cases import WorkflowCase, WorkflowStep
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import render
from dtsen.workflows import cases, moves, verval

router = APIRouter(tags=["kunjungan"])

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MEMBER_FIELD = re.compile(r"^anggota_([A-Za-z0-9_-]{1,32})$")
NEW_MEMBER_ROWS = 3
MAX_NOTE = 2000
MAX_AREA = 10_000
# The field form needs the phone's position; every other page keeps geolocation off.
FORM_PERMISSIONS = "camera=(), microphone=(), geolocation=(self), payment=()"
PHOTO_MESSAGES: dict[str, str] = {
    "too_large": N_("Foto terlalu besar: paling besar 5 MB per foto."),
    "empty": N_("Berkas foto kosong."),
    "type": N_("Kirim foto JPEG atau PNG."),
    "type_mismatch": N_("Isi berkas tidak sesuai dengan namanya. Kirim foto aslinya."),
    "damaged": N_("Foto rusak atau tidak dapat dibuka."),
    "too_many_pixels": N_("Foto terlalu besar ukurannya (piksel). Kirim foto biasa dari kamera ponsel."),
}


class FormError(Exception):
    """The form cannot be accepted: ``status`` and messages by field (msgids with parameters)."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, dict(errors or {})


# -- helpers ---------------------------------------------------------------------------------------------
def _code_lists() -> dict[str, Any]:
    from dtsen.canonical import ENTITIES

    keluarga = ENTITIES["keluarga"]
    return {name: keluarga.field(name).code_list for name in verval.HOUSING if keluarga.field(name).code_list}


def _label(member: Any, lang: str) -> str:
    return str(member.label_en if lang == "en" else member.label)


def _message(error: cases.CaseError, lang: str) -> str:
    msgid, params = error.message
    return i18n.gettext(lang, msgid) % params if params else i18n.gettext(lang, msgid)


def _case_error(request: Request, error: cases.CaseError) -> Response:
    lang = i18n.language_of(request)
    fields = [
        {
            "field": name,
            "message": i18n.gettext(lang, msgid) % params if params else i18n.gettext(lang, msgid),
        }
        for name, (msgid, params) in getattr(error, "errors", {}).items()
    ]
    return error_response(request, error.status, _message(error, lang), errors=fields or None)


def _form_error(request: Request, error: FormError) -> Response:
    lang = i18n.language_of(request)
    fields = [{"field": name, "message": i18n.gettext(lang, text)} for name, text in error.errors.items()]
    return error_response(request, error.status, error.message, errors=fields or None)


def _upload_root(request: Request) -> FilePath:
    """``data_dir/uploads`` (``app.state.upload_dir`` overrides it, for tests), as the public intake."""
    override = getattr(request.app.state, "upload_dir", None)
    if override is not None:
        return FilePath(override)
    from dtsen.config import get_settings

    settings = getattr(request.app.state, "settings", None) or get_settings()
    return uploads.upload_root(FilePath(settings.data_dir))


# -- the form --------------------------------------------------------------------------------------------
def form_view(session: Session, principal: Principal, case: WorkflowCase, lang: str) -> dict[str, Any]:
    """What the form shows: the served housing preselected, assets, members (an audited read)."""
    from dtsen.reference.codes import Aset, HubunganKeluarga
    from dtsen.store import registry

    current = verval.served_family(session, case.id_keluarga_dtsen) or {}
    members: list[dict[str, Any]] = []
    if case.id_keluarga_dtsen:
        detail = registry.family_detail(session, principal, case.id_keluarga_dtsen, purpose="kunjungan")
        for member in detail.members if detail is not None else []:
            if member.get("status_hidup") is False:
                continue
            hubungan = member.get("hubungan")
            try:
                relation = _label(HubunganKeluarga(int(hubungan)), lang) if hubungan is not None else ""
            except ValueError:
                relation = ""
            members.append(
                {
                    "id": member["id_dtsen"],
                    "nama": member.get("nama") or "–",
                    "hubungan": relation,
                    "umur": member.get("umur"),
                }
            )
    housing = []
    for name, code_list in _code_lists().items():
        housing.append(
            {
                "name": name,
                "value": current.get(name),
                "options": [(int(m), _label(m, lang)) for m in code_list],
            }
        )
    extra = {"lahan_lain": N_("Lahan lain"), "rumah_lain": N_("Rumah lain"), "internet": N_("Akses internet")}
    assets = [{"name": m.field, "label": _label(m, lang), "value": bool(current.get(m.field))} for m in Aset]
    assets += [
        {"name": k, "label": i18n.gettext(lang, v), "value": bool(current.get(k))} for k, v in extra.items()
    ]
    return {
        "case": case,
        "desa": region_name(case.kode_desa),
        "housing": housing,
        "luas_lantai": current.get("luas_lantai"),
        "assets": assets,
        "assets_known": bool(current),
        "members": members,
        "keberadaan": [(key, i18n.gettext(lang, label)) for key, label in verval.KEBERADAAN.items()],
        "hubungan_options": [(int(m), _label(m, lang)) for m in HubunganKeluarga],
        "new_rows": range(1, NEW_MEMBER_ROWS + 1),
        "kunci": secrets.token_urlsafe(24),
    }


HOUSING_LABELS = {
    "status_bangunan": N_("Status bangunan tempat tinggal"),
    "lantai": N_("Jenis lantai terluas"),
    "dinding": N_("Jenis dinding terluas"),
    "atap": N_("Jenis atap terluas"),
    "sumber_air_minum": N_("Sumber air minum utama"),
    "sumber_penerangan": N_("Sumber penerangan utama"),
    "daya_listrik": N_("Daya listrik terpasang"),
    "bahan_bakar_masak": N_("Bahan bakar utama untuk memasak"),
    "fasilitas_bab": N_("Fasilitas buang air besar"),
}


@router.get("/staf/kunjungan/{case_id}", summary="Formulir kunjungan rumah")
def visit_form(
    request: Request,
    case_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(requires("case.act")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    try:
        case = verval.visit_case(session, principal, case_id)
    except cases.CaseError as error:
        return _case_error(request, error)
    view = form_view(session, principal, case, lang)
    session.commit()  # the audit entries of the member read, before rendering
    context = {**view, "housing_labels": {k: i18n.gettext(lang, v) for k, v in HOUSING_LABELS.items()}}
    return render(request, "staff/kunjungan.html", context, headers={"permissions-policy": FORM_PERMISSIONS})


# -- reading the posted form -------------------------------------------------------------------------------
def _number(text: str, field: str, errors: dict[str, str], *, low: float, high: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        errors[field] = N_("Isi dengan angka.")
        return None
    if not low <= value <= high or value != value:
        errors[field] = N_("Angka di luar rentang yang mungkin.")
        return None
    return value


def parse_visit(form: FormData) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    """(observed values, GPS point or None, errors by field) from the posted form."""
    errors: dict[str, str] = {}
    observed: dict[str, Any] = {}
    for name, code_list in _code_lists().items():
        text = str(form.get(name) or "").strip()
        if not text:
            continue
        if not text.isdigit() or int(text) not in code_list.codes():
            errors[name] = N_("Pilih salah satu pilihan yang ada.")
            continue
        observed[name] = int(text)
    area = _number(str(form.get("luas_lantai") or "").strip(), "luas_lantai", errors, low=1, high=MAX_AREA)
    if area is not None:
        observed["luas_lantai"] = round(area)
    if form.get("aset_diamati"):
        for name in verval.asset_fields():
            observed[name] = form.get(name) == "ya"
    anggota = []
    for key, value in form.multi_items():
        match = MEMBER_FIELD.match(key)
        if match is None or key == "anggota_baru":
            continue
        if value not in verval.KEBERADAAN:
            errors[key] = N_("Pilih keberadaan anggota.")
            continue
        anggota.append({"id_dtsen": match.group(1), "keberadaan": value})
    observed["anggota"] = anggota[:50]
    baru = []
    for row in range(1, NEW_MEMBER_ROWS + 1):
        nama = " ".join(str(form.get(f"baru_nama_{row}") or "").split())[:100]
        hubungan = str(form.get(f"baru_hubungan_{row}") or "").strip()
        tahun = str(form.get(f"baru_tahun_{row}") or "").strip()
        if not (nama or hubungan or tahun):
            continue
        if len(nama) < 2:
            errors[f"baru_nama_{row}"] = N_("Tulis nama anggota baru.")
        if tahun and not (tahun.isdigit() and 1900 <= int(tahun) <= 2100):
            errors[f"baru_tahun_{row}"] = N_("Tahun lahir 4 angka, misalnya 2024.")
        baru.append(
            {
                "nama": nama,
                "hubungan": int(hubungan) if hubungan.isdigit() else None,
                "tahun_lahir": int(tahun) if tahun.isdigit() else None,
            }
        )
    observed["anggota_baru"] = baru
    note = str(form.get("catatan") or "").strip()
    if len(note) > MAX_NOTE:
        errors["catatan"] = N_("Catatan paling panjang 2000 huruf.")
    observed["catatan"] = note[:MAX_NOTE]
    lat = _number(str(form.get("lat") or "").strip(), "lat", errors, low=-1000, high=1000)
    lon = _number(str(form.get("lon") or "").strip(), "lon", errors, low=-1000, high=1000)
    accuracy = _number(str(form.get("akurasi") or "").strip(), "akurasi", errors, low=0, high=1e7)
    gps = None
    if (lat is None) != (lon is None) and "lat" not in errors and "lon" not in errors:
        errors["lat"] = N_("Lintang dan bujur diisi keduanya, atau dikosongkan keduanya.")
    elif lat is not None and lon is not None:
        gps = verval.check_gps(lat, lon, accuracy)
    return observed, gps, errors


def _photos(request: Request, form: FormData) -> list[str]:
    files = [item for item in form.getlist("foto") if isinstance(item, UploadFile) and item.filename]
    if len(files) > uploads.MAX_FILES:
        raise FormError(422, N_("Paling banyak 3 foto."), {"foto": N_("Paling banyak 3 foto.")})
    checked = []
    for upload in files:
        try:
            content, mime, _name = uploads.read_checked(upload, "foto")
            if not mime.startswith("image/"):
                raise uploads.UploadRejectedError("type", 415, upload.filename)
        except uploads.UploadRejectedError as exc:
            message = PHOTO_MESSAGES.get(exc.reason, PHOTO_MESSAGES["damaged"])
            raise FormError(
                exc.status if exc.status in (413, 415) else 422, message, {"foto": message}
            ) from exc
        checked.append(content)
    root = _upload_root(request)
    return [uploads.store_bytes(content, root) for content in checked]


def _done(request: Request, case: WorkflowCase) -> Response:
    lang = i18n.language_of(request)
    state = cases.workflow_of(case.jenis).state(case.state)
    if wants_json(request):
        return JSONResponse(
            {
                "ok": True,
                "kasus": case.nomor,
                "status": case.state,
                "versi": case.version,
                "pesan": i18n.gettext(lang, N_("Hasil kunjungan terkirim.")),
            }
        )
    return render(request, "staff/kunjungan_terkirim.html", {"case": case, "state_label": state.label})


@router.post("/staf/kunjungan/{case_id}", summary="Kirim hasil kunjungan rumah")
async def visit_submit(
    request: Request,
    case_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(requires("case.act")),
    session: Session = Depends(db_session),
) -> Response:
    from starlette.concurrency import run_in_threadpool

    try:
        form = await uploads.limited_request(request).form(max_files=uploads.MAX_FILES + 2, max_fields=200)
    except uploads.BodyTooLargeError:
        return error_response(
            request, 413, N_("Kiriman terlalu besar: paling banyak 3 foto, masing-masing 5 MB.")
        )
    try:
        return await run_in_threadpool(_submit, request, session, principal, case_id, form)
    finally:
        await form.close()


def _submit(
    request: Request, session: Session, principal: Principal, case_id: int, form: FormData
) -> Response:
    key = str(form.get("kunci") or "")
    version = str(form.get("versi") or "")
    try:
        if not KEY_RE.match(key):
            raise FormError(
                422,
                N_("Formulir tidak lengkap: muat ulang halaman kunjungan."),
                {"kunci": N_("Wajib diisi.")},
            )
        if not version.isdigit():
            raise FormError(
                422,
                N_("Formulir tidak lengkap: muat ulang halaman kunjungan."),
                {"versi": N_("Wajib diisi.")},
            )
        done = session.scalars(select(WorkflowStep).where(WorkflowStep.idempotency_key == key)).one_or_none()
        if done is not None and done.case_id == case_id:  # the same form again: answer as the first time
            return _done(
                request, cases.get_case(session, principal, case_id, purpose="kunjungan", audited=False)
            )
        case = verval.visit_case(session, principal, case_id)
        observed, gps, errors = parse_visit(form)
        if errors:
            raise FormError(422, N_("Beberapa isian belum benar."), errors)
        photos = _photos(request, form)
        fields: dict[str, Any] = {
            "hasil": observed,
            "perubahan": verval.observed_changes(session, case, observed),
            "anggota": verval.member_notes(observed),
            "foto": photos,
        }
        if gps is not None:
            fields["gps"] = gps
        moved = moves.act(
            session,
            principal,
            case_id,
            verval.VISIT_ACTION,
            version=int(version),
            fields=fields,
            idempotency_key=key,
        )
    except FormError as error:
        return _form_error(request, error)
    except cases.CaseError as error:
        return _case_error(request, error)
    return _done(request, moved)


# -- the plan ----------------------------------------------------------------------------------------------
def _kab_of(principal: Principal) -> str | None:
    return next((region for region in principal.regions if len(region) == 4), None)


@router.get("/staf/verval/rencana", summary="Rencana kunjungan verval: formulir")
def plan_form(request: Request, principal: Principal = Depends(requires("verval.plan"))) -> Response:
    return render(request, "staff/verval_rencana.html", {"kab": _kab_of(principal), "opened": None})


@router.post("/staf/verval/rencana", summary="Rencana kunjungan verval: buat")
async def plan_submit(
    request: Request,
    principal: Principal = Depends(requires("verval.plan")),
    session: Session = Depends(db_session),
) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form(max_files=0, max_fields=10)
    quota = str(form.get("kuota") or "").strip()
    if not quota.isdigit() or not 1 <= int(quota) <= verval.MAX_QUOTA:
        message = N_("Kuota per pendamping 1 sampai 500 kunjungan.")
        return _form_error(request, FormError(422, message, {"kuota": message}))
    kab = _kab_of(principal)
    try:
        opened = await run_in_threadpool(
            verval.plan_assignments, session, principal, kab or "", None, int(quota)
        )
    except cases.CaseError as error:
        return _case_error(request, error)
    per_pendamping: dict[str, int] = {}
    for case in opened:
        per_pendamping[str(case.assigned_to)] = per_pendamping.get(str(case.assigned_to), 0) + 1
    if wants_json(request):
        return JSONResponse(
            {
                "dibuka": len(opened),
                "per_pendamping": per_pendamping,
                "kasus": [case.nomor for case in opened],
            }
        )
    context = {"kab": kab, "opened": opened, "per_pendamping": sorted(per_pendamping.items())}
    return render(request, "staff/verval_rencana.html", context)
