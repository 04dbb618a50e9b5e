"""The answers of the public pages once a form has passed its guards: Cek Status (a miss answered with one
page of one shape after the same lookups), the Usul/Sanggah receipt, Lacak, and who read my data. The
routes in :mod:`dtsen.api.public` read the form and call these in a worker thread.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from dtsen.api import ratelimit, uploads
from dtsen.api.public_forms import (
    DOCUMENT_FIELDS,
    DOCUMENT_LABELS,
    OBJECTION_LABELS,
    STATE_LABELS,
    UNRANKED_DEFAULT,
    UNRANKED_REASONS,
    RefusedError,
    admit,
    count_hit,
    form_text,
    new_challenge,
    region_options,
    say_message,
    upload_root,
)
from dtsen.auth.scope import PUBLIC
from dtsen.reference.nik import check_kk, check_nik
from dtsen.store import audit, citizen_check, person_names
from dtsen.store.citizen_check import CitizenStatus
from dtsen.web.i18n import N_
from dtsen.web.templating import render, translator
from dtsen.web.upload_messages import UPLOAD_MESSAGES
from dtsen.workflows import intake, read_trail


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
    """The page's view of :func:`dtsen.store.citizen_check.citizen_status`: a family that is not ranked gets
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


def cek_context(
    request: Request, session: Session, params: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    cara = params.get("cara") if params.get("cara") in {"nik", "wilayah"} else "nik"
    return {
        "nav_current": "cek",
        "cara": cara,
        "challenge": new_challenge(request, "cek"),
        "form": {"nama": params.get("nama", "")} if extra.get("keep") else {},
        "errors": {},
        # The NIK form shows no region selects: no region query on the path the bench measures.
        **(region_options(session, params) if cara == "wilayah" else {"options": {}, "chosen": {}}),
        **extra,
    }


def citizen_lookup(
    session: Session, nik: str | None, nama: str, kode_desa: str | None
) -> CitizenStatus | None:
    """The registry's masked answer or ``None``: one call whatever the input. The registry audits the
    read (``public:publik``, purpose ``cek_status``) in this request's unit of work, committed here:
    the audit chain's lock is held until commit, so committing before the page is rendered keeps
    concurrent checks from queueing behind one another's rendering (39 -> 144 checks/s in a test)."""
    answer = citizen_check.citizen_status(session, nik, nama, kode_desa)
    session.commit()
    return answer


def cek_status_answer(request: Request, session: Session, form: FormData) -> Response:
    """The work of a Cek Status POST (in a worker thread: the database calls block)."""
    _ = translator(request)
    params = {name: form_text(form, name, 200) for name in ("cara", "nama", "prov", "kab", "kec", "desa")}
    ip = ratelimit.client_network(request)

    def again(message: str, status: int = 400, errors: dict[str, str] | None = None) -> Response:
        context = cek_context(request, session, params, keep=True, errors=errors or {}, message=_(message))
        return render(request, "public/cek_status.html", context, status_code=status)

    try:
        cara = params["cara"] if params["cara"] in {"nik", "wilayah"} else "nik"
        errors: dict[str, str] = {}
        nik: str | None = None
        kode_desa: str | None = None
        if cara == "nik":
            raw_nik = form_text(form, "nik", 40)
            if problem := intake.nik_problem(raw_nik):
                errors["nik"] = say_message(_, problem)
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
            name_key = person_names.normalize_name(nama)
            subject = [
                ("cek_nik", nik if nik is not None else f"{kode_desa}|{name_key}"),
                ("cek_pola", f"{nik[:12] if nik is not None else kode_desa}|{name_key}"),
            ]
        admit(request, form, "cek", ("cek_ip", ip), subject, again)
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
            {**cek_context(request, session, {"cara": cara}), "result": "tidak_ditemukan"},
        )
    view = status_answer(answer)
    return render(
        request,
        "public/cek_status.html",
        {**cek_context(request, session, {"cara": cara}), "result": "ditemukan", "answer": view},
    )


def request_context(
    request: Request, session: Session, jenis: str, params: Mapping[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "nav_current": "usul",
        "jenis": jenis,
        "kategori_labels": OBJECTION_LABELS,
        "document_fields": [(name, DOCUMENT_LABELS[kind]) for name, kind in DOCUMENT_FIELDS.items()],
        "challenge": new_challenge(request, "usul"),
        "idempotency_key": params.get("kunci") or secrets.token_urlsafe(24),
        "form": dict(params),
        "errors": {},
        **region_options(session, params),
        **extra,
    }


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


def submit_answer(request: Request, session: Session, jenis: str, form: FormData) -> Response:
    _ = translator(request)
    params = {name: form_text(form, name, 4000) for name in REQUEST_TEXT_FIELDS}
    ip = ratelimit.client_network(request)

    def again(message: str, status: int = 400, errors: dict[str, str] | None = None) -> Response:
        context = request_context(request, session, jenis, params, errors=errors or {}, message=_(message))
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
            count_hit(request, [("usul_ip", ip)])
            return _receipt(request, existing, created=False)
        # The reporter's own limit waits for the documents to be checked (below).
        admit(request, form, "usul", ("usul_ip", ip), [], again)
        field_errors: dict[str, str] = {}
        try:
            valid = intake.validate_request(session, data)
        except intake.InvalidFieldsError as exc:
            field_errors.update({name: say_message(_, message) for name, message in exc.errors.items()})
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
        count_hit(request, [("usul_nik", valid.reporter_nik)])
    except RefusedError as refused:
        return refused.response

    root = upload_root(request)
    documents = [
        intake.PreparedDocument(kind, uploads.store_bytes(content, root), mime, len(content), original)
        for kind, content, mime, original in checked
    ]
    try:
        created_request, created = intake.submit_request(session, valid, documents)
    except intake.InvalidFieldsError as exc:
        return again(
            N_("Beberapa isian belum benar."), 409, {k: say_message(_, v) for k, v in exc.errors.items()}
        )
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


def lacak_context(request: Request, **extra: Any) -> dict[str, Any]:
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


def lacak_answer(request: Request, session: Session, form: FormData) -> Response:
    _ = translator(request)
    number_raw, nik_raw = form_text(form, "nomor", 60), form_text(form, "nik", 40)
    ip = ratelimit.client_network(request)
    try:
        errors: dict[str, str] = {}
        number = intake.normalise_tracking_number(number_raw)
        if number is None:
            errors["nomor"] = _(
                N_("Nomor pelacakan berbentuk DTSEN-XXXX-XXXX-XXXX; periksa kembali ketikannya.")
            )
        if problem := intake.nik_problem(nik_raw, intake.LABEL_NIK_PELAPOR):
            errors["nik"] = say_message(_, problem)
        subject = [("lacak_nomor", number)] if number is not None and not errors else []
        admit(request, form, None, ("lacak_ip", ip), subject, lambda message: Response(status_code=400))
        if errors:
            context = lacak_context(
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
        lacak_context(request, result="ditemukan" if found else "tidak_ditemukan", permintaan=found),
    )


def data_saya_context(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "nav_current": "siapa",
        "challenge": new_challenge(request, "datasaya"),
        "errors": {},
        "form": {},
        **extra,
    }


def data_saya_answer(request: Request, session: Session, form: FormData) -> Response:
    _ = translator(request)
    params = {name: form_text(form, name, 200) for name in ("nik", "nama", "tanggal_lahir", "no_kk")}
    ip = ratelimit.client_network(request)

    def again(message: str, status: int = 400, errors: dict[str, str] | None = None) -> Response:
        context = data_saya_context(
            request, errors=errors or {}, form={"nama": params["nama"]}, message=_(message)
        )
        return render(request, "public/data_saya.html", context, status_code=status)

    try:
        errors: dict[str, str] = {}
        if problem := intake.nik_problem(params["nik"]):
            errors["nik"] = say_message(_, problem)
        nama = intake.clean_name(params["nama"])
        if nama is None:
            errors["nama"] = _(N_("Tulis nama lengkap sesuai KTP."))
        born: date | None = None
        try:
            born = date.fromisoformat(params["tanggal_lahir"])
        except ValueError:
            errors["tanggal_lahir"] = _(N_("Isi tanggal lahir (hari, bulan, tahun)."))
        if problem := intake.kk_problem(params["no_kk"]):
            errors["no_kk"] = say_message(_, problem)
        nik = check_nik(params["nik"]).digits
        subject = [("datasaya_nik", nik)] if nik is not None and not errors else []
        admit(request, form, "datasaya", ("datasaya_ip", ip), subject, again)
        if errors:
            raise RefusedError(again(N_("Beberapa isian belum benar."), 422, errors))
        assert nik is not None
        assert nama is not None
        assert born is not None
    except RefusedError as refused:
        return refused.response
    claim = read_trail.IdentityClaim(
        nik=nik, nama=nama, tanggal_lahir=born, no_kk=check_kk(params["no_kk"]).digits or ""
    )
    home = read_trail.proven_identity(session, claim)
    if home is None:
        return render(request, "public/data_saya.html", data_saya_context(request, result="tidak_cocok"))
    entries = read_trail.trail_entries(session, audit.trail_for(session, nik), home)
    # The lookup itself is processing of personal data: recorded after the trail was read, so it shows
    # next time.
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
        request, "public/data_saya.html", data_saya_context(request, result="ditemukan", entries=entries)
    )
