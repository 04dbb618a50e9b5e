"""Every error answered the same way: in the request's language (Bahasa by default), as an HTML page for
browsers and as JSON for ``/api/``, the token endpoint and clients that ask for JSON; never a stack trace.

Handlers raise ``HTTPException(status, detail)`` with a Bahasa ``detail`` (a msgid of the catalog, marked
with ``N_``) when the standard sentence for the status is not specific enough; a plain English status
phrase (FastAPI's default detail) is replaced by the standard Bahasa sentence. A request validation error
becomes one readable line per field ("NIK: wajib diisi"), without echoing the value (it may be a NIK).
"""

from __future__ import annotations

import http
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dtsen.logs import get_logger
from dtsen.web import i18n
from dtsen.web.i18n import N_

log = get_logger(__name__)

# (machine code, title, sentence) per status; titles and sentences are msgids of the catalogs.
STATUS_TEXT: dict[int, tuple[str, str, str]] = {
    400: ("permintaan_tidak_valid", N_("Permintaan tidak valid"), N_("Permintaan ini tidak dapat diproses.")),
    401: (
        "perlu_masuk",
        N_("Perlu masuk"),
        N_("Silakan masuk dengan akun petugas untuk membuka halaman ini."),
    ),
    403: (
        "tidak_berwenang",
        N_("Tidak berwenang"),
        N_("Anda tidak berwenang melakukan tindakan ini. Muat ulang halaman lalu coba lagi."),
    ),
    404: (
        "tidak_ditemukan",
        N_("Tidak ditemukan"),
        N_("Halaman atau data yang Anda cari tidak ditemukan."),
    ),
    405: (
        "metode_tidak_didukung",
        N_("Cara akses tidak didukung"),
        N_("Alamat ini tidak dapat dibuka dengan cara tersebut."),
    ),
    406: (
        "format_tidak_didukung",
        N_("Format tidak didukung"),
        N_("Format jawaban yang diminta tidak tersedia."),
    ),
    409: (
        "konflik",
        N_("Data sudah berubah"),
        N_("Data telah diubah oleh orang lain. Muat ulang lalu coba lagi."),
    ),
    410: (
        "kedaluwarsa",
        N_("Tidak berlaku lagi"),
        N_("Yang Anda minta sudah tidak berlaku lagi."),
    ),
    413: (
        "terlalu_besar",
        N_("Terlalu besar"),
        N_("Berkas atau isian yang dikirim terlalu besar. Perkecil ukurannya lalu kirim lagi."),
    ),
    415: (
        "jenis_tidak_didukung",
        N_("Jenis berkas tidak didukung"),
        N_("Jenis isi yang dikirim tidak didukung."),
    ),
    422: (
        "isian_tidak_valid",
        N_("Isian belum benar"),
        N_("Beberapa isian belum benar. Periksa lalu kirim lagi."),
    ),
    429: (
        "terlalu_banyak_permintaan",
        N_("Terlalu banyak permintaan"),
        N_("Terlalu banyak permintaan dalam waktu singkat. Tunggu sebentar lalu coba lagi."),
    ),
    500: (
        "kesalahan_sistem",
        N_("Terjadi kesalahan"),
        N_("Terjadi kesalahan pada sistem. Coba lagi nanti; jika terus berulang, hubungi petugas."),
    ),
    503: (
        "tidak_tersedia",
        N_("Layanan belum tersedia"),
        N_("Layanan sedang tidak tersedia. Coba lagi beberapa saat lagi."),
    ),
}

# Pydantic error types -> a Bahasa sentence about the field.
VALIDATION_TEXT: dict[str, str] = {
    "missing": N_("wajib diisi"),
    "string_too_short": N_("terlalu pendek"),
    "string_too_long": N_("terlalu panjang"),
    "string_pattern_mismatch": N_("formatnya tidak sesuai"),
    "string_type": N_("harus berupa teks"),
    "int_parsing": N_("harus berupa bilangan bulat"),
    "int_type": N_("harus berupa bilangan bulat"),
    "int_from_float": N_("harus berupa bilangan bulat"),
    "float_parsing": N_("harus berupa angka"),
    "float_type": N_("harus berupa angka"),
    "decimal_parsing": N_("harus berupa angka"),
    "bool_parsing": N_("harus ya atau tidak"),
    "bool_type": N_("harus ya atau tidak"),
    "date_parsing": N_("harus berupa tanggal (TTTT-BB-HH)"),
    "date_from_datetime_parsing": N_("harus berupa tanggal (TTTT-BB-HH)"),
    "date_type": N_("harus berupa tanggal (TTTT-BB-HH)"),
    "datetime_parsing": N_("harus berupa tanggal dan jam"),
    "datetime_from_date_parsing": N_("harus berupa tanggal dan jam"),
    "literal_error": N_("pilihan tidak dikenal"),
    "enum": N_("pilihan tidak dikenal"),
    "greater_than": N_("nilainya terlalu kecil"),
    "greater_than_equal": N_("nilainya terlalu kecil"),
    "less_than": N_("nilainya terlalu besar"),
    "less_than_equal": N_("nilainya terlalu besar"),
    "too_short": N_("terlalu sedikit isian"),
    "too_long": N_("terlalu banyak isian"),
    "json_invalid": N_("bukan JSON yang sah"),
    "uuid_parsing": N_("bukan kode yang sah"),
    "model_attributes_type": N_("bentuk isian tidak sesuai"),
    "dict_type": N_("bentuk isian tidak sesuai"),
    "list_type": N_("harus berupa daftar"),
}
VALIDATION_DEFAULT = N_("tidak valid")

# Field names -> labels people know (others are shown with underscores as spaces).
FIELD_LABELS: dict[str, str] = {
    "nik": N_("NIK"),
    "kk": N_("Nomor KK"),
    "no_kk": N_("Nomor KK"),
    "nomor_kk": N_("Nomor KK"),
    "nama": N_("Nama"),
    "nama_lengkap": N_("Nama lengkap"),
    "tanggal_lahir": N_("Tanggal lahir"),
    "kode_desa": N_("Desa/kelurahan"),
    "desa": N_("Desa/kelurahan"),
    "password": N_("Kata sandi"),
    "kata_sandi": N_("Kata sandi"),
    "username": N_("Nama pengguna"),
    "csrf_token": N_("Token formulir"),
    "berkas": N_("Berkas"),
    "body": N_("Isi permintaan"),
}
LOCATIONS = {"query", "body", "path", "header", "cookie"}


def wants_json(request: Request) -> bool:
    """JSON for the machine API, the token endpoint and clients that prefer JSON over HTML."""
    path = request.url.path
    if path.startswith(("/api/", "/auth/")) or path == "/api":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def field_label(loc: tuple[Any, ...] | list[Any], lang: str) -> str:
    names = [str(part) for part in loc if not isinstance(part, int) and str(part) not in LOCATIONS]
    if not names:
        return i18n.gettext(lang, FIELD_LABELS["body"])
    name = names[-1]
    label = FIELD_LABELS.get(name)
    return i18n.gettext(lang, label) if label else name.replace("_", " ").capitalize()


def validation_messages(exc: RequestValidationError, lang: str) -> list[dict[str, str]]:
    """One entry per failing field: its name, its label and a sentence; the submitted value is never
    repeated (it may be a NIK)."""
    messages: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        field = ".".join(str(part) for part in loc if str(part) not in LOCATIONS) or "body"
        text = i18n.gettext(lang, VALIDATION_TEXT.get(str(error.get("type")), VALIDATION_DEFAULT))
        if (field, text) in seen:
            continue
        seen.add((field, text))
        messages.append({"field": field, "label": field_label(loc, lang), "message": text})
    return messages


def _is_default_detail(status: int, detail: Any) -> bool:
    try:
        return detail is None or detail == http.HTTPStatus(status).phrase
    except ValueError:
        return True


def _safe_back_link(request: Request) -> str | None:
    """The page the user came from, if it is on this site (never an open redirect)."""
    referer = request.headers.get("referer")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def error_response(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error answer for ``status``: HTML page or JSON, in the request's language."""
    lang = i18n.language_of(request)
    code, title, sentence = STATUS_TEXT.get(status, STATUS_TEXT[500 if status >= 500 else 400])
    message = i18n.gettext(lang, detail) if detail else i18n.gettext(lang, sentence)
    if wants_json(request):
        body: dict[str, Any] = {"status": status, "kode": code, "detail": message}
        if errors:
            body["errors"] = [{"field": e["field"], "message": e["message"]} for e in errors]
        return JSONResponse(body, status_code=status, headers=headers)
    from dtsen.web.templating import render  # here: templating imports the app's pieces lazily too

    context = {
        "status": status,
        "code": code,
        "title": i18n.gettext(lang, title),
        "message": message,
        "errors": errors or [],
        "back_link": _safe_back_link(request),
    }
    return render(request, "errors/error.html", context, status_code=status, headers=headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = None if _is_default_detail(exc.status_code, exc.detail) else exc.detail
    if detail is not None and not isinstance(detail, str):
        detail = None  # structured details are for logs, not for people
    if exc.status_code >= 500:
        log.error("http error", status=exc.status_code, path=request.url.path)
    return error_response(request, exc.status_code, detail, headers=dict(exc.headers or {}) or None)


async def validation_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    lang = i18n.language_of(request)
    return error_response(request, 422, errors=validation_messages(exc, lang))


async def server_error_handler(request: Request, exc: Exception) -> Response:
    # The class name and the path are enough to find the bug; the message may carry personal data.
    log.error("unhandled error", error=type(exc).__name__, path=request.url.path, method=request.method)
    return error_response(request, 500)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` (404/405 from routing, every HTTPException, 422, and 500)."""
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.add_exception_handler(Exception, server_error_handler)
