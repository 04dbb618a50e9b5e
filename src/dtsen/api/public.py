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

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from dtsen.api import challenge as challenge_mod
from dtsen.api import ratelimit, uploads
from dtsen.api.deps import db_session
from dtsen.auth.scope import PUBLIC
from dtsen.reference.nik import check_kk, check_nik
from dtsen.store import audit, registry
from dtsen.store.registry import CitizenStatus
from dtsen.web.i18n import N_
from dtsen.web.templating import render, translator
from dtsen.workflows import intake
from dtsen.workflows.machine import WORKFLOWS


async def public_route() -> None:
    """Marks every route of this router as public (no login) for the authorization-matrix test."""


public_route.public = True  # type: ignore[attr-defined]

router = APIRouter(tags=["publik"], dependencies=[Depends(public_route)])

OBJECTION_LABELS: dict[str, str] = {
    "excluded_but_eligible": N_("Keluarga layak menerima bantuan tetapi tidak terdaftar"),
    "included_not_eligible": N_("Keluarga terdaftar sebagai penerima tetapi tidak layak"),
    "wrong_data": N_("Data keluarga tidak benar"),
    "deceased_listed": N_("Anggota keluarga yang sudah meninggal masih tercatat"),
}
# What the citizen's Lacak page says of each state of a request's case (from the workflows' definitions).
STATE_LABELS: dict[str, str] = {
    state.name: state.public_label or state.label
    for workflow in WORKFLOWS.values()
    for state in workflow.states
}
DOCUMENT_FIELDS: dict[str, str] = {
    "dokumen_ktp": "ktp",
    "dokumen_kk": "kk",
    "dokumen_listrik": "tagihan_listrik",
}
DOCUMENT_LABELS: dict[str, str] = {
    "ktp": N_("Foto KTP"),
    "kk": N_("Foto Kartu Keluarga"),
    "tagihan_listrik": N_("Tagihan atau struk listrik"),
    "lainnya": N_("Dokumen lain"),
}
UPLOAD_MESSAGES: dict[str, str] = {
    "too_large": N_("Berkas terlalu besar: paling besar 5 MB per berkas."),
    "empty": N_("Berkas kosong."),
    "type": N_("Jenis berkas tidak diterima: kirim foto JPEG atau PNG, atau PDF."),
    "type_mismatch": N_(
        "Isi berkas tidak sesuai dengan namanya (misalnya PDF yang dinamai .jpg). Kirim berkas aslinya."
    ),
    "damaged": N_("Berkas rusak atau tidak dapat dibuka."),
    "too_many_pixels": N_("Gambar terlalu besar ukurannya (piksel). Kirim foto biasa dari kamera ponsel."),
}
CHALLENGE_MESSAGES: dict[str, str] = {
    "missing": N_(
        "Pemeriksaan keamanan belum selesai. Tunggu sebentar lalu kirim lagi, atau jawab pertanyaan hitungan."
    ),
    "invalid": N_("Pemeriksaan keamanan tidak sah. Muat ulang halaman lalu coba lagi."),
    "expired": N_("Halaman sudah terlalu lama dibuka. Isian Anda masih ada; kirim lagi."),
    "wrong": N_("Jawaban pertanyaan hitungan salah. Coba lagi."),
    "replayed": N_("Formulir ini sudah pernah dikirim. Isian Anda masih ada; kirim lagi bila perlu."),
}
UNRANKED_REASONS: dict[str, str] = {
    "tanpa_observasi": N_(
        "Data kondisi rumah tangga keluarga ini belum pernah dikumpulkan petugas, sehingga peringkatnya "
        "belum dapat dihitung."
    ),
    "tanpa_kepala_dewasa": N_(
        "Keluarga ini tidak memiliki kepala keluarga dewasa yang tercatat, sehingga peringkatnya belum dapat "
        "dihitung."
    ),
}
UNRANKED_DEFAULT = N_("Data keluarga ini belum cukup untuk menghitung peringkat.")


# --- shared plumbing -----------------------------------------------------------------------------------


def _limits(request: Request) -> dict[str, ratelimit.Limit]:
    state = request.app.state
    limits = getattr(state, "public_rate_limits", None)
    if limits is None:
        limits = state.public_rate_limits = ratelimit.configured_limits()
    return limits


def _challenge_settings(request: Request) -> challenge_mod.ChallengeSettings:
    state = request.app.state
    settings = getattr(state, "challenge_settings", None)
    if settings is None:
        settings = state.challenge_settings = challenge_mod.load_settings()
    return settings


def _upload_root(request: Request) -> Path:
    """``data_dir/uploads`` of the app's settings (``app.state.upload_dir`` overrides it, for tests)."""
    override = getattr(request.app.state, "upload_dir", None)
    if override is not None:
        return Path(override)
    from dtsen.config import get_settings

    settings = getattr(request.app.state, "settings", None) or get_settings()
    return uploads.upload_root(Path(settings.data_dir))


class RefusedError(Exception):
    """A guard refused the request: answered with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _too_many(request: Request, exc: ratelimit.RateLimitedError) -> Response:
    minutes = max(1, (exc.retry_after + 59) // 60)
    return render(
        request,
        "public/terlalu_banyak.html",
        {"minutes": minutes, "nav_current": None},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


def _hit(request: Request, checks: list[tuple[str, str]]) -> None:
    """Count the request in each ``(bucket, value)`` at once (one statement on PostgreSQL, committed at
    once on the tally engine); a limit reached answers 429."""
    limits = _limits(request)
    try:
        ratelimit.hit_many(
            ratelimit.tally_engine(request), [(limits[bucket], value) for bucket, value in checks]
        )
    except ratelimit.RateLimitedError as exc:
        raise RefusedError(_too_many(request, exc)) from exc


def _say(_: Callable[[str], str], message: intake.Message) -> str:
    """A workflow message in the request's language (its parameters are msgids or plain values)."""
    msgid, params = message
    return _(msgid) % {key: _(value) for key, value in params.items()}


def _text(form: FormData, name: str, max_length: int = 4000) -> str:
    value = form.get(name)
    return value[:max_length] if isinstance(value, str) else ""


# Filling in a request with documents takes longer than a status check: its challenge lives at least an
# hour, so a citizen who photographs a KTP meanwhile does not lose the form (files cannot be refilled).
USUL_MIN_TTL_SECONDS = 3600


def _new_challenge(request: Request, purpose: str) -> challenge_mod.Issued | None:
    settings = _challenge_settings(request)
    if not settings.enabled:
        return None
    if purpose == "usul" and settings.ttl_seconds < USUL_MIN_TTL_SECONDS:
        settings = challenge_mod.ChallengeSettings(settings.difficulty, USUL_MIN_TTL_SECONDS)
    return challenge_mod.issue(purpose, settings)


def _admit(
    request: Request,
    form: FormData,
    purpose: str | None,
    network: tuple[str, str],
    subject: list[tuple[str, str]],
    retry: Callable[[str], Response],
) -> None:
    """The guards of a public form whose fields were checked in-process, with one counting statement.

    Counted: the client network always (malformed input and failed challenges count too), the no-JS
    question's tighter ``tanya_ip`` when the form was answered that way, and the ``subject`` buckets (per
    NIK, per tracking number) when the challenge checked out; pass no subject when the fields were
    invalid. Then a limit reached answers 429, a failed challenge its message, and the challenge is spent
    (a replayed form is refused). The caller answers invalid fields (422) after this.
    """
    settings = _challenge_settings(request)
    passed: challenge_mod.Passed | None = None
    problem: str | None = None
    if purpose is not None and settings.enabled:
        try:
            passed = challenge_mod.check(
                purpose,
                settings,
                pow_token=_text(form, "tantangan_token", 300) or None,
                nonce=_text(form, "tantangan_nonce", 40) or None,
                question_token=_text(form, "soal_token", 300) or None,
                answer=_text(form, "soal_jawaban", 20) or None,
            )
        except challenge_mod.ChallengeError as exc:
            problem = exc.reason
    checks = [network]
    if passed is not None and passed.by_question:
        checks.append(("tanya_ip", network[1]))
    if problem is None:
        checks.extend(subject)
    _hit(request, checks)
    if problem is not None:
        raise RefusedError(retry(CHALLENGE_MESSAGES[problem]))
    if passed is not None:
        try:
            challenge_mod.spend(ratelimit.tally_engine(request), passed.challenge_id, passed.expires)
        except challenge_mod.ChallengeError as exc:
            raise RefusedError(retry(CHALLENGE_MESSAGES[exc.reason])) from exc


def _region_options(session: Session, params: Mapping[str, str]) -> dict[str, Any]:
    """The cascading selects' options and choices (province -> kab/kota -> kecamatan -> desa); a choice
    that does not lie inside the one above it is dropped, with everything below it."""
    levels = ("prov", "kab", "kec", "desa")
    chosen = {level: (params.get(level) or "").strip() for level in levels}
    options: dict[str, list[tuple[str, str]]] = {"prov": intake.region_children(session, None)}
    options.update({"kab": [], "kec": [], "desa": []})
    parent = ""
    for position, (level, length) in enumerate((("prov", 2), ("kab", 4), ("kec", 6), ("desa", 10))):
        value = chosen[level]
        valid = len(value) == length and value.isdigit() and value.startswith(parent)
        if not valid:
            for lower in levels[position:]:
                chosen[lower] = ""
            break
        parent = value
        if level != "desa":
            options[levels[position + 1]] = intake.region_children(session, value)
    return {"options": options, "chosen": chosen}


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


# --- Cek Status ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusAnswer:
    """What a found person is shown, from the registry's masked answer (no identifiers in it)."""

    nama: str
    ranked: bool
    desil: int | None
    unranked_reason: str | None
    certainty: str | None
    programs: list[dict[str, Any]]
    reasons: list[str]
    snapshot: str
    quarter: tuple[str, str] | None  # ("2026", "2") from the period 2026Q2


def status_answer(answer: CitizenStatus) -> StatusAnswer:
    """The page's view of :func:`dtsen.store.registry.citizen_status`: a family that is not ranked gets
    the reason in plain words instead of a desil."""
    ranked = answer.status_peringkat != "tidak_diperingkat" and answer.desil is not None
    reason = None
    if not ranked:
        reason = UNRANKED_REASONS.get(answer.alasan_tidak_diperingkat or "", UNRANKED_DEFAULT)
    return StatusAnswer(
        nama=answer.nama_tersamar,
        ranked=ranked,
        desil=answer.desil if ranked else None,
        unranked_reason=reason,
        certainty=answer.kepastian if ranked else None,
        programs=[{"nama": p.nama, "nilai_triwulan": p.nilai_triwulan} for p in answer.programs if p.layak],
        reasons=list(answer.alasan[:3]),
        snapshot=answer.periode or answer.snapshot_ref,
        quarter=(answer.periode[:4], answer.periode[5:])
        if re.fullmatch(r"\d{4}Q[1-4]", answer.periode or "")
        else None,
    )


def _cek_context(
    request: Request, session: Session, params: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    cara = params.get("cara") if params.get("cara") in {"nik", "wilayah"} else "nik"
    return {
        "nav_current": "cek",
        "cara": cara,
        "challenge": _new_challenge(request, "cek"),
        "form": {"nama": params.get("nama", "")} if extra.get("keep") else {},
        "errors": {},
        # The NIK form shows no region selects: no region query on the path the bench measures.
        **(_region_options(session, params) if cara == "wilayah" else {"options": {}, "chosen": {}}),
        **extra,
    }


@router.get("/cek-status", summary="Cek Status: formulir")
def cek_status_form(request: Request, session: Session = Depends(db_session)) -> Response:
    return render(request, "public/cek_status.html", _cek_context(request, session, request.query_params))


@router.get("/cek", include_in_schema=False)
def cek_alias() -> RedirectResponse:
    return RedirectResponse("/cek-status", status_code=308)


def citizen_lookup(
    session: Session, nik: str | None, nama: str, kode_desa: str | None
) -> CitizenStatus | None:
    """The registry's masked answer or ``None``: one call whatever the input. The registry audits the
    read (``public:publik``, purpose ``cek_status``) in this request's unit of work, committed here:
    the audit chain's lock is held until commit, so committing before the page is rendered keeps
    concurrent checks from queueing behind one another's rendering (39 -> 144 checks/s in a test)."""
    answer = registry.citizen_status(session, nik, nama, kode_desa)
    session.commit()
    return answer


@router.post("/cek-status", summary="Cek Status: hasil")
async def cek_status(request: Request, session: Session = Depends(db_session)) -> Response:
    form = await request.form(max_files=0, max_fields=40)
    return await run_in_threadpool(cek_status_answer, request, session, form)


def cek_status_answer(request: Request, session: Session, form: FormData) -> Response:
    """The work of a Cek Status POST (in a worker thread: the database calls block)."""
    _ = translator(request)
    params = {name: _text(form, name, 200) for name in ("cara", "nama", "prov", "kab", "kec", "desa")}
    ip = ratelimit.client_network(request)

    def again(message: str, status: int = 400, errors: dict[str, str] | None = None) -> Response:
        context = _cek_context(request, session, params, keep=True, errors=errors or {}, message=_(message))
        return render(request, "public/cek_status.html", context, status_code=status)

    try:
        cara = params["cara"] if params["cara"] in {"nik", "wilayah"} else "nik"
        errors: dict[str, str] = {}
        nik: str | None = None
        kode_desa: str | None = None
        if cara == "nik":
            raw_nik = _text(form, "nik", 40)
            if problem := intake.nik_problem(raw_nik):
                errors["nik"] = _say(_, problem)
            nik = check_nik(raw_nik).digits
        else:
            desa = intake.desa_of(session, params["desa"])
            if desa is None:
                errors["desa"] = _("Pilih provinsi, kabupaten/kota, kecamatan lalu desa/kelurahan.")
            kode_desa = desa.kode if desa is not None else None
        nama = intake.clean_name(params["nama"])
        if nama is None:
            errors["nama"] = _(
                "Tulis nama lengkap sesuai KTP (huruf, spasi, titik, koma, apostrof, tanda hubung)."
            )
        # Per-NIK (or per desa + name) limits, keyed by a keyed hash (the NIK is never stored). The same
        # pattern on both paths (a NIK's first 12 digits or the desa, with the name), so the work done does
        # not depend on the form either.
        subject: list[tuple[str, str]] = []
        if not errors and nama is not None:
            name_key = registry.normalize_name(nama)
            subject = [
                ("cek_nik", nik if nik is not None else f"{kode_desa}|{name_key}"),
                ("cek_pola", f"{nik[:12] if nik is not None else kode_desa}|{name_key}"),
            ]
        _admit(request, form, "cek", ("cek_ip", ip), subject, again)
        if errors:
            raise RefusedError(again(N_("Beberapa isian belum benar."), 422, errors))
        assert nama is not None
    except RefusedError as refused:
        return refused.response

    answer = citizen_lookup(session, nik, nama, kode_desa)
    if answer is None:
        return render(
            request,
            "public/cek_status.html",
            {**_cek_context(request, session, {"cara": cara}), "result": "tidak_ditemukan"},
        )
    view = status_answer(answer)
    return render(
        request,
        "public/cek_status.html",
        {**_cek_context(request, session, {"cara": cara}), "result": "ditemukan", "answer": view},
    )


# --- Usul / Sanggah ------------------------------------------------------------------------------------


def _request_context(
    request: Request, session: Session, jenis: str, params: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "nav_current": "usul",
        "jenis": jenis,
        "kategori_labels": OBJECTION_LABELS,
        "document_fields": [(name, DOCUMENT_LABELS[kind]) for name, kind in DOCUMENT_FIELDS.items()],
        "challenge": _new_challenge(request, "usul"),
        "idempotency_key": params.get("kunci") or secrets.token_urlsafe(24),
        "form": dict(params),
        "errors": {},
        **_region_options(session, params),
        **extra,
    }


@router.get("/usul", summary="Usul: formulir usulan keluarga")
def usul_form(request: Request, session: Session = Depends(db_session)) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in {"prov", "kab", "kec", "desa"}}
    return render(request, "public/permintaan.html", _request_context(request, session, "usulan", params))


@router.get("/sanggah", summary="Sanggah: formulir sanggahan")
def sanggah_form(request: Request, session: Session = Depends(db_session)) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in {"prov", "kab", "kec", "desa"}}
    return render(request, "public/permintaan.html", _request_context(request, session, "sanggahan", params))


REQUEST_TEXT_FIELDS = (
    "kunci",
    "kategori",
    "pelapor_nik",
    "pelapor_nama",
    "telepon",
    "subjek_nik",
    "subjek_kk",
    "subjek_nama",
    "prov",
    "kab",
    "kec",
    "desa",
    "alasan",
)


async def _submit(request: Request, session: Session, jenis: str) -> Response:
    _ = translator(request)
    try:
        form = await uploads.limited_request(request).form(max_files=uploads.MAX_FILES, max_fields=60)
    except uploads.BodyTooLargeError:
        return render(
            request,
            "public/permintaan.html",
            {
                **_request_context(request, session, jenis, {}),
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
                **_request_context(request, session, jenis, {}),
                "message": _(
                    N_("Kiriman tidak dapat dibaca: paling banyak 3 berkas. Isi formulir lalu kirim lagi.")
                ),
            },
            status_code=400,
        )
    try:
        return await run_in_threadpool(_submit_answer, request, session, jenis, form)
    finally:
        await form.close()


def _submit_answer(request: Request, session: Session, jenis: str, form: FormData) -> Response:
    _ = translator(request)
    params = {name: _text(form, name, 4000) for name in REQUEST_TEXT_FIELDS}
    ip = ratelimit.client_network(request)

    def again(message: str, status: int = 400, errors: dict[str, str] | None = None) -> Response:
        context = _request_context(request, session, jenis, params, errors=errors or {}, message=_(message))
        return render(request, "public/permintaan.html", context, status_code=status)

    data = intake.RequestInput(
        jenis=jenis,
        kategori=params["kategori"] or None,
        reporter_nik=params["pelapor_nik"],
        reporter_nama=params["pelapor_nama"],
        reporter_telepon=params["telepon"] or None,
        subject_nik=params["subjek_nik"] or None,
        subject_kk=params["subjek_kk"] or None,
        subject_nama=params["subjek_nama"] or None,
        kode_desa=params["desa"],
        alasan=params["alasan"],
        idempotency_key=params["kunci"],
    )
    try:
        # A replay of a form already accepted (double click, reload): the same receipt, nothing new
        # (still counted against the network).
        existing = (
            intake.find_by_idempotency_key(session, data.idempotency_key) if data.idempotency_key else None
        )
        reporter_digits = check_nik(data.reporter_nik).digits
        if (
            existing is not None
            and reporter_digits
            and existing.reporter_ref == audit.subject_ref(reporter_digits)
        ):
            _hit(request, [("usul_ip", ip)])
            return _receipt(request, existing, created=False)
        # The reporter's own limit waits for the documents to be checked (below).
        _admit(request, form, "usul", ("usul_ip", ip), [], again)
        field_errors: dict[str, str] = {}
        try:
            valid = intake.validate_request(session, data)
        except intake.InvalidFieldsError as exc:
            field_errors.update({name: _say(_, message) for name, message in exc.errors.items()})
            valid = None
        checked: list[tuple[str, bytes, str, str]] = []
        wrong_type = False
        for name, kind in DOCUMENT_FIELDS.items():
            upload = form.get(name)
            if not isinstance(upload, UploadFile) or not upload.filename:
                continue
            try:
                content, mime, original = uploads.read_checked(upload, kind)
            except uploads.UploadRejectedError as exc:
                field_errors[name] = _(UPLOAD_MESSAGES[exc.reason])
                wrong_type = wrong_type or exc.status == 415
                if exc.status == 413:
                    raise RefusedError(again(N_("Berkas terlalu besar."), 413, field_errors)) from exc
                continue
            checked.append((kind, content, mime, original))
        if field_errors or valid is None:
            # 415 when a document is of a refused type, else 422 (fields or a damaged file).
            status = 415 if wrong_type else 422
            raise RefusedError(again(N_("Beberapa isian belum benar."), status, field_errors))
        _hit(request, [("usul_nik", valid.reporter_nik)])
    except RefusedError as refused:
        return refused.response

    root = _upload_root(request)
    documents = [
        intake.PreparedDocument(kind, uploads.store_bytes(content, root), mime, len(content), original)
        for kind, content, mime, original in checked
    ]
    try:
        created_request, created = intake.submit_request(session, valid, documents)
    except intake.InvalidFieldsError as exc:
        return again(N_("Beberapa isian belum benar."), 409, {k: _say(_, v) for k, v in exc.errors.items()})
    return _receipt(request, created_request, created=created)


def _receipt(request: Request, citizen_request: Any, *, created: bool) -> Response:
    return render(
        request,
        "public/permintaan_diterima.html",
        {
            "nav_current": "usul",
            "permintaan": citizen_request,
            "lokal": intake.local_time,
            "created": created,
            "kategori_labels": OBJECTION_LABELS,
        },
        status_code=201 if created else 200,
    )


@router.post("/usul", summary="Usul: kirim usulan keluarga")
async def usul_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    return await _submit(request, session, "usulan")


@router.post("/sanggah", summary="Sanggah: kirim sanggahan")
async def sanggah_submit(request: Request, session: Session = Depends(db_session)) -> Response:
    return await _submit(request, session, "sanggahan")


# --- Lacak ---------------------------------------------------------------------------------------------


def _lacak_context(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "nav_current": "lacak",
        "challenge": None,
        "errors": {},
        "form": {},
        "state_labels": STATE_LABELS,
        "lokal": intake.local_time,
        "kategori_labels": OBJECTION_LABELS,
        "document_labels": DOCUMENT_LABELS,
        **extra,
    }


@router.get("/lacak", summary="Lacak: formulir")
def lacak_form(request: Request) -> Response:
    return render(request, "public/lacak.html", _lacak_context(request))


@router.post("/lacak", summary="Lacak: status dan riwayat permintaan")
async def lacak(request: Request, session: Session = Depends(db_session)) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    return await run_in_threadpool(_lacak_answer, request, session, form)


def _lacak_answer(request: Request, session: Session, form: FormData) -> Response:
    _ = translator(request)
    number_raw, nik_raw = _text(form, "nomor", 60), _text(form, "nik", 40)
    ip = ratelimit.client_network(request)
    try:
        errors: dict[str, str] = {}
        number = intake.normalise_tracking_number(number_raw)
        if number is None:
            errors["nomor"] = _(
                N_("Nomor pelacakan berbentuk DTSEN-XXXX-XXXX-XXXX; periksa kembali ketikannya.")
            )
        if problem := intake.nik_problem(nik_raw, intake.LABEL_NIK_PELAPOR):
            errors["nik"] = _say(_, problem)
        subject = [("lacak_nomor", number)] if number is not None and not errors else []
        _admit(request, form, None, ("lacak_ip", ip), subject, lambda message: Response(status_code=400))
        if errors:
            context = _lacak_context(
                request,
                errors=errors,
                form={"nomor": number_raw},
                message=_(N_("Beberapa isian belum benar.")),
            )
            return render(request, "public/lacak.html", context, status_code=422)
        assert number is not None
    except RefusedError as refused:
        return refused.response
    found = intake.find_tracked(session, number, nik_raw)
    return render(
        request,
        "public/lacak.html",
        _lacak_context(request, result="ditemukan" if found else "tidak_ditemukan", permintaan=found),
    )


# --- Siapa yang membaca data saya ----------------------------------------------------------------------


def _datasaya_context(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "nav_current": "siapa",
        "challenge": _new_challenge(request, "datasaya"),
        "errors": {},
        "form": {},
        **extra,
    }


@router.get("/data-saya", summary="Siapa yang membaca data saya: formulir")
def data_saya_form(request: Request) -> Response:
    return render(request, "public/data_saya.html", _datasaya_context(request))


@router.get("/siapa-membaca", include_in_schema=False)
def data_saya_alias() -> RedirectResponse:
    return RedirectResponse("/data-saya", status_code=308)


@router.post("/data-saya", summary="Siapa yang membaca data saya: riwayat akses")
async def data_saya(request: Request, session: Session = Depends(db_session)) -> Response:
    form = await request.form(max_files=0, max_fields=30)
    return await run_in_threadpool(_data_saya_answer, request, session, form)


def _data_saya_answer(request: Request, session: Session, form: FormData) -> Response:
    _ = translator(request)
    params = {name: _text(form, name, 200) for name in ("nik", "nama", "tanggal_lahir", "no_kk")}
    ip = ratelimit.client_network(request)

    def again(message: str, status: int = 400, errors: dict[str, str] | None = None) -> Response:
        context = _datasaya_context(
            request, errors=errors or {}, form={"nama": params["nama"]}, message=_(message)
        )
        return render(request, "public/data_saya.html", context, status_code=status)

    try:
        errors: dict[str, str] = {}
        if problem := intake.nik_problem(params["nik"]):
            errors["nik"] = _say(_, problem)
        nama = intake.clean_name(params["nama"])
        if nama is None:
            errors["nama"] = _(N_("Tulis nama lengkap sesuai KTP."))
        born: date | None = None
        try:
            born = date.fromisoformat(params["tanggal_lahir"])
        except ValueError:
            errors["tanggal_lahir"] = _(N_("Isi tanggal lahir (hari, bulan, tahun)."))
        if problem := intake.kk_problem(params["no_kk"]):
            errors["no_kk"] = _say(_, problem)
        nik = check_nik(params["nik"]).digits
        subject = [("datasaya_nik", nik)] if nik is not None and not errors else []
        _admit(request, form, "datasaya", ("datasaya_ip", ip), subject, again)
        if errors:
            raise RefusedError(again(N_("Beberapa isian belum benar."), 422, errors))
        assert nik is not None
        assert nama is not None
        assert born is not None
    except RefusedError as refused:
        return refused.response
    claim = intake.IdentityClaim(
        nik=nik, nama=nama, tanggal_lahir=born, no_kk=check_kk(params["no_kk"]).digits or ""
    )
    home = intake.proven_identity(session, claim)
    if home is None:
        return render(request, "public/data_saya.html", _datasaya_context(request, result="tidak_cocok"))
    entries = intake.trail_entries(session, audit.trail_for(session, nik), home)
    # The lookup itself is processing of personal data: recorded after the trail was read, so it shows next time.
    audit.record(
        session,
        **PUBLIC.audit_fields(),
        action="read",
        resource="audit_trail",
        nik=nik,
        region_kode=home or None,
        purpose="data_saya",
    )
    return render(
        request, "public/data_saya.html", _datasaya_context(request, result="ditemukan", entries=entries)
    )
