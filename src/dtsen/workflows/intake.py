"""Citizen requests from the public pages: validation, the request and its first history row, tracking,
and local time by region (the identity proof and trail of "Siapa yang membaca data saya" are in
:mod:`dtsen.workflows.read_trail`). Routers in :mod:`dtsen.api.public` stay thin.

Decisions:

* **Identifiers.** A reporter's and a subject's NIK/KK are stored as a keyed HMAC (the audit log's
  :func:`~dtsen.store.audit.subject_ref`, so Lacak and the PDP trail find them) and sealed with
  AES-256-GCM under a key derived (HKDF) from the deployment secret: the desa operator and the dinsos who
  handle the request must read the NIK to verify the reporter, call back and match the subject to the
  registry, so a one-way hash alone would not do; a database dump alone reveals no NIK. Rotating
  ``DTSEN_SECRET_KEY`` therefore needs re-sealing (as it needs re-keying the audit references).
  Names and phone numbers are kept in clear: the desa needs them, and they unlock nothing.
* **Tracking numbers** are ``DTSEN-XXXX-XXXX-XXXX``: eleven random Crockford base-32 characters (55 bits,
  no I/L/O/U to misread) and a Luhn mod-32 check character that catches every single mistyped character
  and most swaps of neighbours before the database is asked. Lacak needs the number *and* the reporter's
  NIK, and a wrong pair answers exactly like an unknown number.
* **Idempotency.** Each form carries a random key; the key is unique in ``citizen_request``, so a
  replayed or double-clicked POST returns the request it already created instead of a second one.
* **Deadline.** ``ack_due_at = received_at + 72 h``: UU 27/2022 gives 3 x 24 hours to acknowledge a
  request about one's data; issue 12's queues sort by it.
"""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from dtsen.auth.scope import PUBLIC
from dtsen.config import get_settings
from dtsen.reference.nik import check_kk, check_nik
from dtsen.store import audit
from dtsen.store.intake import (
    OBJECTION_CATEGORIES,
    CitizenRequest,
    CitizenRequestDocument,
    CitizenRequestEvent,
)
from dtsen.store.models import Region
from dtsen.web.i18n import N_

ACK_DEADLINE = timedelta(hours=72)
PUBLIC_ACTOR = "publik"

# --- sealing identifiers -------------------------------------------------------------------------------

_SEAL_INFO = b"dtsen/intake/identifier/v1"
_SEAL_AAD = b"dtsen-identifier"


@lru_cache(maxsize=4)
def _seal_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(secret.encode())


def seal(value: str) -> str:
    """``value`` encrypted (AES-256-GCM, random nonce) as printable text: ``v1:`` + base64."""
    key = _seal_key(get_settings().resolved_secret_key())
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode("utf-8"), _SEAL_AAD)
    return "v1:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(text: str) -> str:
    """The value :func:`seal` sealed (for the staff who process the request)."""
    if not text.startswith("v1:"):
        raise ValueError("not a sealed value")
    raw = base64.urlsafe_b64decode(text[3:].encode("ascii"))
    key = _seal_key(get_settings().resolved_secret_key())
    return AESGCM(key).decrypt(raw[:12], raw[12:], _SEAL_AAD).decode("utf-8")


# --- tracking numbers ----------------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
TRACKING_PREFIX = "DTSEN"
_RANDOM_CHARS = 11


def _luhn_check(payload: str) -> str:
    """Luhn mod N (N = 32) check character of ``payload``."""
    total, factor = 0, 2
    for char in reversed(payload):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def new_tracking_number() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(_RANDOM_CHARS))
    code = payload + _luhn_check(payload)
    return f"{TRACKING_PREFIX}-{code[0:4]}-{code[4:8]}-{code[8:12]}"


def normalise_tracking_number(text: str | None) -> str | None:
    """The canonical form of a typed tracking number, or ``None`` if it cannot be one (check included).

    Lower case, spaces, missing dashes and the look-alikes O/I/L are forgiven.
    """
    if not text:
        return None
    cleaned = re.sub(r"[\s\-_.]", "", text.upper())[:40]
    if cleaned.startswith(TRACKING_PREFIX):
        cleaned = cleaned[len(TRACKING_PREFIX) :]
    cleaned = cleaned.translate(_READ_AS)
    if len(cleaned) != _RANDOM_CHARS + 1 or any(char not in _VALUE for char in cleaned):
        return None
    if _luhn_check(cleaned[:-1]) != cleaned[-1]:
        return None
    return f"{TRACKING_PREFIX}-{cleaned[0:4]}-{cleaned[4:8]}-{cleaned[8:12]}"


# --- text fields ---------------------------------------------------------------------------------------

_NAME_ALLOWED = re.compile(r"^[^\W\d_]+(?:[ .,'\-][^\W\d_]*)*\.?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_NAME = 120
MAX_REASON = 2000


# A message for the citizen: a msgid of the web catalogs (Bahasa) and its %-parameters, which are
# msgids too (field labels) or plain values; the router translates both into the request's language.
Message = tuple[str, dict[str, str]]


def say(msgid: str, **params: str) -> Message:
    return msgid, params


class InvalidFieldsError(ValueError):
    """Form fields that are not right: field name -> :data:`Message`."""

    def __init__(self, errors: dict[str, Message]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


def clean_name(value: str | None) -> str | None:
    """A person's name as typed, tidied (NFKC, single spaces), or ``None`` if it is no name."""
    if value is None:
        return None
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not text or len(text) > MAX_NAME or not _NAME_ALLOWED.match(text):
        return None
    return text


def clean_text(value: str | None, max_length: int = MAX_REASON) -> str:
    """Free text kept as written (rendered escaped everywhere), minus control characters."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value or "")).replace("\r\n", "\n").strip()
    return text[:max_length] if len(text) > max_length else text


def clean_phone(value: str | None) -> str | None:
    text = re.sub(r"[\s\-().]", "", value or "")
    if not text:
        return None
    if not re.fullmatch(r"\+?\d{8,15}", text):
        raise InvalidFieldsError({"telepon": say(N_("Nomor telepon harus 8 sampai 15 angka."))})
    return text


LABEL_NIK = N_("NIK")
LABEL_NIK_PELAPOR = N_("NIK pelapor")
LABEL_NIK_KELUARGA = N_("NIK keluarga")
LABEL_KK = N_("Nomor KK")


def nik_problem(raw: str | None, label: str = LABEL_NIK) -> Message | None:
    """What is wrong with a typed NIK, in words, or ``None`` if it can be a NIK."""
    check = check_nik(raw)
    if check.valid:
        return None
    codes = set(check.codes)
    if "nik_missing" in codes:
        return say(N_("%(label)s wajib diisi."), label=label)
    if "nik_not_numeric" in codes or "nik_excel_scientific" in codes:
        return say(N_("%(label)s hanya berisi angka (16 angka)."), label=label)
    if "nik_length" in codes:
        return say(N_("%(label)s harus 16 angka."), label=label)
    if codes & {"nik_province_unknown", "nik_kabupaten_unknown"}:
        return say(N_("%(label)s tidak valid: kode wilayah (6 angka pertama) tidak dikenal."), label=label)
    if "nik_birth_date_invalid" in codes:
        return say(N_("%(label)s tidak valid: angka ke-7 sampai ke-12 bukan tanggal lahir."), label=label)
    return say(N_("%(label)s tidak valid."), label=label)


def kk_problem(raw: str | None) -> Message | None:
    check = check_kk(raw)
    if check.valid:
        return None
    codes = set(check.codes)
    if "no_kk_missing" in codes:
        return say(N_("%(label)s wajib diisi."), label=LABEL_KK)
    if "no_kk_length" in codes or "no_kk_not_numeric" in codes:
        return say(N_("%(label)s harus 16 angka."), label=LABEL_KK)
    return say(N_("%(label)s tidak valid."), label=LABEL_KK)


def desa_of(session: Session, kode_desa: str | None) -> Region | None:
    """The desa/kelurahan row of a code, or ``None`` when it is no desa."""
    if not kode_desa or not re.fullmatch(r"\d{10}", kode_desa):
        return None
    region = session.get(Region, kode_desa)
    return region if region is not None and region.level == "desa" else None


def region_children(session: Session, parent: str | None) -> list[tuple[str, str]]:
    """(kode, nama) of the regions directly below ``parent`` (provinces when ``None``), by name."""
    if parent is None:
        statement = select(Region.kode, Region.nama).where(Region.level == "provinsi")
    else:
        level = {2: "kabupaten", 4: "kecamatan", 6: "desa"}.get(len(parent))
        if level is None or not parent.isdigit():
            return []
        column = {2: Region.kode_prov, 4: Region.kode_kab, 6: Region.kode_kec}[len(parent)]
        statement = select(Region.kode, Region.nama).where(Region.level == level, column == parent)
    return [(row.kode, row.nama) for row in session.execute(statement.order_by(Region.nama, Region.kode))]


# --- usulan / sanggahan --------------------------------------------------------------------------------


@dataclass
class RequestInput:
    """One usulan or sanggahan as the citizen typed it (validated by :func:`validate_request`)."""

    jenis: str
    kategori: str | None
    reporter_nik: str
    reporter_nama: str
    reporter_telepon: str | None
    subject_nik: str | None
    subject_kk: str | None
    subject_nama: str | None
    kode_desa: str
    alasan: str
    idempotency_key: str


@dataclass(frozen=True)
class PreparedDocument:
    """A document already checked and stored (content-addressed) by :mod:`dtsen.api.uploads`."""

    kind: str
    sha256: str
    mime: str
    size_bytes: int
    original_name: str


@dataclass
class ValidRequest:
    data: RequestInput
    reporter_nik: str
    reporter_nama: str
    reporter_telepon: str | None
    subject_nik: str | None
    subject_kk: str | None
    subject_nama: str | None
    desa: Region
    alasan: str
    warnings: list[str] = field(default_factory=list)


def validate_request(session: Session, data: RequestInput) -> ValidRequest:
    """Every field checked at once; :class:`InvalidFieldsError` lists all that are wrong."""
    errors: dict[str, Message] = {}
    if data.jenis not in {"usulan", "sanggahan"}:
        errors["jenis"] = say(N_("Pilih jenis permintaan: usulan atau sanggahan."))
    if data.jenis == "sanggahan" and data.kategori not in OBJECTION_CATEGORIES:
        errors["kategori"] = say(N_("Pilih alasan sanggahan."))
    if problem := nik_problem(data.reporter_nik, LABEL_NIK_PELAPOR):
        errors["pelapor_nik"] = problem
    reporter_nama = clean_name(data.reporter_nama)
    if reporter_nama is None:
        errors["pelapor_nama"] = say(
            N_("Nama pelapor wajib diisi, hanya huruf, spasi, titik, koma, apostrof dan tanda hubung.")
        )
    telepon: str | None = None
    try:
        telepon = clean_phone(data.reporter_telepon)
    except InvalidFieldsError as exc:
        errors.update(exc.errors)
    subject_nik = (data.subject_nik or "").strip() or None
    subject_kk = (data.subject_kk or "").strip() or None
    if subject_nik is None and subject_kk is None:
        errors["subjek_nik"] = say(N_("Isi NIK atau nomor KK keluarga yang diusulkan atau disanggah."))
    if subject_nik is not None and (problem := nik_problem(subject_nik, LABEL_NIK_KELUARGA)):
        errors["subjek_nik"] = problem
    if subject_kk is not None and (problem := kk_problem(subject_kk)):
        errors["subjek_kk"] = problem
    subject_nama: str | None = None
    if (data.subject_nama or "").strip():
        subject_nama = clean_name(data.subject_nama)
        if subject_nama is None:
            errors["subjek_nama"] = say(
                N_("Nama hanya boleh berisi huruf, spasi, titik, koma, apostrof dan tanda hubung.")
            )
    desa = desa_of(session, data.kode_desa)
    if desa is None:
        errors["kode_desa"] = say(N_("Pilih desa/kelurahan tempat keluarga tinggal."))
    alasan = clean_text(data.alasan)
    if len(alasan) < 10:
        errors["alasan"] = say(N_("Tuliskan alasan paling sedikit 10 huruf."))
    if len(data.alasan or "") > MAX_REASON:
        errors["alasan"] = say(N_("Alasan paling panjang %(batas)s huruf."), batas=str(MAX_REASON))
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", data.idempotency_key or ""):
        errors["formulir"] = say(N_("Formulir tidak lengkap. Muat ulang halaman lalu isi kembali."))
    if errors:
        raise InvalidFieldsError(errors)
    assert reporter_nama is not None
    assert desa is not None
    return ValidRequest(
        data=data,
        reporter_nik=check_nik(data.reporter_nik).digits or "",
        reporter_nama=reporter_nama,
        reporter_telepon=telepon,
        subject_nik=check_nik(subject_nik).digits if subject_nik else None,
        subject_kk=check_kk(subject_kk).digits if subject_kk else None,
        subject_nama=subject_nama,
        desa=desa,
        alasan=alasan,
    )


def find_by_idempotency_key(session: Session, key: str) -> CitizenRequest | None:
    return session.scalars(select(CitizenRequest).where(CitizenRequest.idempotency_key == key)).one_or_none()


def submit_request(
    session: Session,
    valid: ValidRequest,
    documents: list[PreparedDocument],
    *,
    now: datetime | None = None,
) -> tuple[CitizenRequest, bool]:
    """Create the request, its documents and its first history row; ``(request, created)``.

    A key already used returns the existing request with ``created=False`` (a replayed form), but only
    to the same reporter: another reporter's NIK with a stolen key gets :class:`InvalidFieldsError`.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    reporter_ref = audit.subject_ref(valid.reporter_nik)
    existing = find_by_idempotency_key(session, valid.data.idempotency_key)
    if existing is not None:
        if existing.reporter_ref != reporter_ref:
            raise InvalidFieldsError(
                {"formulir": say(N_("Formulir ini sudah dipakai. Muat ulang halaman lalu isi kembali."))}
            )
        return existing, False
    desa = valid.desa
    request = CitizenRequest(
        tracking_number=new_tracking_number(),
        idempotency_key=valid.data.idempotency_key,
        jenis=valid.data.jenis,
        kategori=valid.data.kategori if valid.data.jenis == "sanggahan" else None,
        status="diterima",
        reporter_ref=reporter_ref,
        reporter_nik_enc=seal(valid.reporter_nik),
        reporter_nama=valid.reporter_nama,
        reporter_telepon=valid.reporter_telepon,
        subject_ref=audit.subject_ref(valid.subject_nik) if valid.subject_nik else None,
        subject_nik_enc=seal(valid.subject_nik) if valid.subject_nik else None,
        subject_kk_ref=audit.subject_ref(valid.subject_kk) if valid.subject_kk else None,
        subject_kk_enc=seal(valid.subject_kk) if valid.subject_kk else None,
        subject_nama=valid.subject_nama,
        kode_prov=desa.kode_prov,
        kode_kab=desa.kode_kab or desa.kode[:4],
        kode_kec=desa.kode_kec or desa.kode[:6],
        kode_desa=desa.kode,
        alasan=valid.alasan,
        received_at=now,
        ack_due_at=now + ACK_DEADLINE,
    )
    seen: set[str] = set()
    for document in documents:
        if document.sha256 in seen:  # the same file attached twice is one document
            continue
        seen.add(document.sha256)
        request.documents.append(
            CitizenRequestDocument(
                kind=document.kind,
                sha256=document.sha256,
                mime=document.mime,
                size_bytes=document.size_bytes,
                original_name=document.original_name,
                uploaded_at=now,
            )
        )
    request.events.append(
        CitizenRequestEvent(
            state="diterima",
            at=now,
            actor=PUBLIC_ACTOR,
            note=(
                "Permintaan diterima melalui laman publik; desa dan dinas sosial wajib menanggapi dalam "
                "3 x 24 jam."
            ),
        )
    )
    try:
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:
        # Two copies of one form raced: the other one won; answer with its request.
        existing = find_by_idempotency_key(session, valid.data.idempotency_key)
        if existing is None or existing.reporter_ref != reporter_ref:
            raise
        return existing, False
    _open_case(session, request, valid, now)
    audit.record(
        session,
        **PUBLIC.audit_fields(),
        action="create",
        resource="citizen_request",
        nik=valid.subject_nik or valid.reporter_nik,
        region_kode=desa.kode,
        purpose=valid.data.jenis,
        detail={"tracking_number": request.tracking_number, "documents": len(request.documents)},
    )
    return request, True


def _open_case(session: Session, request: CitizenRequest, valid: ValidRequest, now: datetime) -> None:
    """The request's workflow case (:mod:`dtsen.workflows.cases`), in the queue of its desa and dinsos."""
    from dtsen.workflows import cases

    family, _ = cases.family_of_nik(session, valid.subject_nik)
    spec = cases.CaseInput(
        jenis=request.jenis,
        periode=cases.target_period(session, now),
        kode_desa=request.kode_desa,
        asal="publik",
        kategori=request.kategori,
        id_keluarga_dtsen=family,
        nik=valid.subject_nik,
        subject_nama=request.subject_nama,
        request_id=request.id,
    )
    cases.open_case(session, PUBLIC, spec, now=now)


def find_tracked(
    session: Session, tracking_number: str | None, reporter_nik: str | None
) -> CitizenRequest | None:
    """The request with this number *and* this reporter; ``None`` for an unknown number or a wrong pair.

    Both cases run the same query (number and reference together), so they take the same work.
    """
    number = normalise_tracking_number(tracking_number) or "-"
    digits = check_nik(reporter_nik).digits or (reporter_nik or "-")
    ref = audit.subject_ref(digits)
    statement = (
        select(CitizenRequest)
        .where(CitizenRequest.tracking_number == number, CitizenRequest.reporter_ref == ref)
        .options(selectinload(CitizenRequest.events), selectinload(CitizenRequest.documents))
    )
    return session.scalars(statement).one_or_none()


# --- local time ----------------------------------------------------------------------------------------

# Indonesia's three time zones by province code: WIT (UTC+9) for Maluku and Papua, WITA (UTC+8) for
# Bali, Nusa Tenggara, Kalimantan Selatan/Timur/Utara and Sulawesi, WIB (UTC+7) elsewhere.
_WIT = ("81", "82", "91", "92", "93", "94", "95", "96", "97")
_WITA = ("51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76")


def local_time(moment: datetime, kode_wilayah: str | None) -> tuple[datetime, str]:
    """``moment`` in the time zone of the region (its province), with the zone's Indonesian name."""
    prov = (kode_wilayah or "")[:2]
    hours, label = (9, "WIT") if prov in _WIT else (8, "WITA") if prov in _WITA else (7, "WIB")
    return moment.astimezone(timezone(timedelta(hours=hours), label)), label
