"""Agency access requests: filing and reading them, and the declared review workflow they follow; the
review steps, the BAST (berita acara serah terima) and expiry are :mod:`dtsen.sharing.review`.

The review is a small workflow (:data:`AKSES`) declared with the same dataclasses as the case workflows
(:mod:`dtsen.workflows.machine`) and run by the same rules: a transition names the roles that may take it
and the fields it must record, every move checks the version the reviewer saw (``UPDATE ... WHERE version
= :seen``) and is audited. It is kept here, not in ``WORKFLOWS``: its subject is an agency's request, not
a family's case, so the case queues, Lacak and the cycle have nothing to do with it.

Who does what (separation of duties, so no single office hands out personal data alone):

* an agency (role ``klien_instansi``, a user or a machine client) files a request for regions inside its
  own, with the signed security statement (refused, 422, without it);
* admin BPS (the processor running the platform) does the **technical** review: is the request complete,
  are the fields and regions servable;
* Kemensos (the data controller) does the **substantive** review and approves or rejects, with reasons;
  admin BPS or Kemensos may reject at any review step.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtsen.auth.permissions import role_has
from dtsen.auth.scope import Principal, Role
from dtsen.store import audit
from dtsen.store.served import ServedSnapshot
from dtsen.store.sharing import LEVELS, AccessRequest
from dtsen.web.i18n import N_
from dtsen.web.upload_messages import UPLOAD_MESSAGES
from dtsen.workflows.cases import CaseError, CaseInvalidError, CaseRefusedError, Message
from dtsen.workflows.machine import State, Transition, Workflow

RESOURCE = "access_request"
WIB = ZoneInfo("Asia/Jakarta")
MAX_VALIDITY = timedelta(days=366)
MIN_K = 5
DEFAULT_K = 10
STATEMENT_KIND = "pernyataan_keamanan"

ADMIN = frozenset({Role.ADMIN_BPS})
KEMENSOS = frozenset({Role.KEMENSOS})
REVIEWERS = ADMIN | KEMENSOS
AGENCY = frozenset({Role.KLIEN_INSTANSI})

AKSES = Workflow(
    "akses",
    N_("Permintaan akses data"),
    "diajukan",
    (
        State("diajukan", N_("Diajukan")),
        State("telaah_teknis", N_("Telaah teknis (BPS)")),
        State("telaah_substantif", N_("Telaah substantif (Kemensos)")),
        State("disetujui", N_("Disetujui")),
        State("ditolak", N_("Ditolak"), terminal=True),
        State("kedaluwarsa", N_("Kedaluwarsa"), terminal=True),
    ),
    (
        Transition("mulai_telaah", N_("Mulai telaah teknis"), ("diajukan",), "telaah_teknis", ADMIN),
        Transition(
            "lulus_teknis",
            N_("Lulus telaah teknis"),
            ("telaah_teknis",),
            "telaah_substantif",
            ADMIN,
            requires=("catatan",),
        ),
        Transition(
            "setujui",
            N_("Setujui permintaan"),
            ("telaah_substantif",),
            "disetujui",
            KEMENSOS,
            requires=("alasan",),
        ),
        Transition(
            "tolak",
            N_("Tolak permintaan"),
            ("diajukan", "telaah_teknis", "telaah_substantif"),
            "ditolak",
            REVIEWERS,
            requires=("alasan",),
        ),
        Transition("kedaluwarsa", N_("Akhiri (masa berlaku habis)"), ("disetujui",), "kedaluwarsa", ADMIN),
    ),
)
AKSES.check()

# What a request may ask for, per person row (by-name and de-identified extracts). The direct identifiers
# are never in a de-identified extract: tokens and the birth year stand in for them.
FIELDS: dict[str, str] = {
    "nik": N_("NIK"),
    "no_kk": N_("Nomor KK"),
    "nama": N_("Nama"),
    "tanggal_lahir": N_("Tanggal lahir"),
    "tempat_lahir": N_("Tempat lahir"),
    "alamat": N_("Alamat"),
    "jenis_kelamin": N_("Jenis kelamin"),
    "hubungan": N_("Hubungan dengan kepala keluarga"),
    "status_kawin": N_("Status perkawinan"),
    "pendidikan_siak": N_("Pendidikan"),
    "pekerjaan_siak": N_("Pekerjaan"),
    "bekerja": N_("Bekerja"),
    "penyakit_kronis": N_("Penyakit kronis"),
    "jaminan_kesehatan": N_("Jaminan kesehatan"),
    "perkotaan": N_("Perkotaan"),
    "kode_kab": N_("Kode kabupaten/kota"),
    "kode_kec": N_("Kode kecamatan"),
    "kode_desa": N_("Kode desa/kelurahan"),
    "jumlah_anggota": N_("Jumlah anggota keluarga"),
    "desil_nasional": N_("Desil nasional"),
    "desil_kabkota": N_("Desil kabupaten/kota"),
}
DIRECT_IDENTIFIERS = frozenset({"nik", "no_kk", "nama", "tanggal_lahir", "tempat_lahir", "alamat"})
LEVEL_LABELS: dict[str, str] = {
    "aggregate": N_("Agregat (jumlah per wilayah dan desil)"),
    "deidentified": N_("Tanpa identitas (token pengganti NIK dan KK)"),
    "byname": N_("By name by address (hanya kolom yang disetujui)"),
}
STATE_LABELS: dict[str, str] = {state.name: state.label for state in AKSES.states}
_REGION_RE = re.compile(r"^\d{2}(?:\d{2}(?:\d{2}(?:\d{4})?)?)?$")
_PROGRAM_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_PERIOD_RE = re.compile(r"^\d{4}Q[1-4]$")


# -- errors ----------------------------------------------------------------------------------------------
class AccessNotFoundError(CaseError):
    status = 404

    def __init__(self) -> None:
        super().__init__(N_("Permintaan akses tidak ditemukan."))


class AccessConflictError(CaseError):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Permintaan ini baru saja diubah oleh petugas lain. Muat ulang halaman lalu ulangi bila "
                "masih perlu."
            )
        )


class StatementRejectedError(CaseError):
    """The security statement upload is refused (its status from the upload checks)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(UPLOAD_MESSAGES.get(reason, UPLOAD_MESSAGES["damaged"]))
        self.status = status


# -- filing ----------------------------------------------------------------------------------------------
@dataclass
class RequestInput:
    """The filing form, as typed (checked by :func:`file_request`)."""

    instansi: str = ""
    tujuan: str = ""
    dasar_hukum: str = ""
    level: str = ""
    regions: Sequence[str] = ()
    fields: Sequence[str] = ()
    programs: Sequence[str] = ()
    periode: str = ""
    valid_from: str = ""
    valid_until: str = ""
    k_min: str = ""
    tautan: str = ""


def owner(principal: Principal) -> str:
    """Who filed, as stored: kind and name, so a machine client never owns a user's request of the same
    name (or the reverse)."""
    return f"{principal.kind}:{principal.name}"[:128]


def now_utc(now: datetime | None) -> datetime:
    """The moment a step is recorded at: the caller's clock (tests, the CLI) or now, in UTC."""
    return (now or datetime.now(UTC)).astimezone(UTC)


def today(now: datetime | None = None) -> date:
    """The date in WIB (validity dates are calendar days of the agreement)."""
    return now_utc(now).astimezone(WIB).date()


def _text(value: Any, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


def _codes(values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        for part in re.split(r"[\s,;]+", str(value)):
            if part and part not in out:
                out.append(part)
    return out


def _check(
    session: Session, principal: Principal, form: RequestInput
) -> tuple[dict[str, Any], dict[str, Message]]:
    errors: dict[str, Message] = {}
    values: dict[str, Any] = {
        "instansi": _text(form.instansi, 200),
        "tujuan": str(form.tujuan or "").strip()[:8000],
        "dasar_hukum": str(form.dasar_hukum or "").strip()[:4000],
        "level": form.level.strip(),
        "periode": form.periode.strip().upper(),
    }
    for name, message in (
        ("instansi", N_("Tuliskan nama instansi.")),
        ("tujuan", N_("Tuliskan tujuan penggunaan data (KAK).")),
        ("dasar_hukum", N_("Tuliskan dasar hukum permintaan.")),
    ):
        if not values[name]:
            errors[name] = (message, {})
    if values["level"] not in LEVELS:
        errors["level"] = (N_("Pilih tingkat data: agregat, tanpa identitas, atau by name."), {})
    if not _PERIOD_RE.match(values["periode"]):
        errors["periode"] = (N_("Tuliskan periode data, misalnya 2026Q2."), {})
    regions = _codes(form.regions)
    if not regions or any(not _REGION_RE.match(code) for code in regions):
        errors["regions"] = (N_("Tuliskan kode wilayah (2, 4, 6 atau 10 angka), dipisah koma."), {})
    elif not all(principal.may_see_region(code) for code in regions):
        errors["regions"] = (N_("Wilayah yang diminta harus berada di wilayah instansi Anda."), {})
    values["regions"] = regions
    fields = _codes(form.fields)
    unknown = [name for name in fields if name not in FIELDS]
    if unknown:
        errors["fields"] = (N_("Kolom tidak dikenal: %(kolom)s."), {"kolom": ", ".join(unknown)[:200]})
    elif values["level"] in ("deidentified", "byname") and not fields:
        errors["fields"] = (N_("Pilih kolom yang diminta."), {})
    elif values["level"] == "deidentified" and DIRECT_IDENTIFIERS & set(fields):
        errors["fields"] = (
            N_("Data tanpa identitas tidak memuat NIK, KK, nama, alamat, tempat atau tanggal lahir."),
            {},
        )
    values["fields"] = fields if values["level"] != "aggregate" else []
    programs = _codes(form.programs)
    served = session.scalar(select(ServedSnapshot.programs).where(ServedSnapshot.is_current)) or {}
    if any(not _PROGRAM_RE.match(code) or (served and code not in served) for code in programs):
        errors["programs"] = (N_("Kode program tidak dikenal."), {})
    values["programs"] = programs
    try:
        start = date.fromisoformat(form.valid_from.strip())
        end = date.fromisoformat(form.valid_until.strip())
    except ValueError:
        errors["valid_until"] = (N_("Tuliskan masa berlaku (tanggal mulai dan berakhir)."), {})
    else:
        if end < start or end - start > MAX_VALIDITY:
            errors["valid_until"] = (N_("Masa berlaku paling lama satu tahun, berakhir setelah dimulai."), {})
        values["valid_from"], values["valid_until"] = start, end
    k_text = str(form.k_min or "").strip()
    if not k_text:
        values["k_min"] = DEFAULT_K
    elif not k_text.isdigit() or not MIN_K <= int(k_text) <= 1000:
        errors["k_min"] = (N_("Ambang sel kecil paling sedikit %(k)s."), {"k": str(MIN_K)})
    else:
        values["k_min"] = int(k_text)
    tautan = form.tautan.strip().upper()
    values["tautan"] = None
    if tautan:
        linked = session.scalar(select(AccessRequest).where(AccessRequest.nomor == tautan))
        if linked is None or linked.pemohon != owner(principal) or linked.level != "deidentified":
            errors["tautan"] = (
                N_("Permintaan yang ditautkan harus permintaan tanpa identitas milik Anda."),
                {},
            )
        else:
            values["tautan"] = tautan
    return values, errors


def _number(session: Session, now: datetime) -> str:
    year = now.astimezone(WIB).year
    prefix = f"AKSES-{year}-"
    count = session.scalar(select(func.count()).where(AccessRequest.nomor.like(f"{prefix}%"))) or 0
    return f"{prefix}{count + 1:06d}"


def file_request(
    session: Session,
    principal: Principal,
    form: RequestInput,
    statement: bytes | None,
    filename: str | None,
    *,
    root: Path,
    now: datetime | None = None,
) -> AccessRequest:
    """File a request: every field checked (422 with each problem), the security statement required and
    checked as any uploaded document, stored content-addressed; audited as ``create``."""
    from starlette.datastructures import UploadFile

    from dtsen.api import uploads

    if principal.role not in AGENCY:
        raise CaseRefusedError(N_("Hanya instansi yang dapat mengajukan permintaan akses."))
    values, errors = _check(session, principal, form)
    if not statement:
        errors["pernyataan"] = (N_("Unggah surat pernyataan keamanan data yang sudah ditandatangani."), {})
    if errors:
        raise CaseInvalidError(errors)
    try:
        content, mime, _name = uploads.read_checked(
            UploadFile(io.BytesIO(statement or b""), size=len(statement or b""), filename=filename or ""),
            STATEMENT_KIND,
        )
    except uploads.UploadRejectedError as exc:
        raise StatementRejectedError(exc.status, exc.reason) from None
    digest = uploads.store_bytes(content, root)
    moment = now_utc(now)
    row = AccessRequest(
        nomor=_number(session, moment),
        pemohon=owner(principal),
        state=AKSES.initial,
        version=1,
        pernyataan_sha256=digest,
        pernyataan_mime=mime,
        reviews=[],
        created_at=moment,
        updated_at=moment,
        **values,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            audit.record(
                session,
                **principal.audit_fields(),
                action="create",
                resource=RESOURCE,
                purpose="akses_data",
                occurred_at=moment,
                detail={
                    "nomor": row.nomor,
                    "level": row.level,
                    "regions": row.regions[:20],
                    "pernyataan": digest,
                },
            )
    except IntegrityError:
        raise AccessConflictError from None
    return row


# -- reading -----------------------------------------------------------------------------------------------
def is_reviewer(principal: Principal) -> bool:
    return role_has(principal.role, "access.review")


def get_request(
    session: Session,
    principal: Principal,
    request_id: int,
    *,
    purpose: str = "akses_data",
    audited: bool = True,
) -> AccessRequest:
    """A request its filer or a reviewer may see; anyone else gets 404 (audited), as for a missing one."""
    row = session.get(AccessRequest, request_id)
    if row is None or not (is_reviewer(principal) or row.pemohon == owner(principal)):
        audit.record(
            session,
            **principal.audit_fields(),
            action="read_denied",
            resource=RESOURCE,
            purpose=purpose,
            detail={"id": request_id},
        )
        raise AccessNotFoundError
    if audited:
        audit.record(
            session,
            **principal.audit_fields(),
            action="read",
            resource=RESOURCE,
            purpose=purpose,
            detail={"nomor": row.nomor},
        )
    return row


def list_requests(
    session: Session, principal: Principal, *, queue: bool = False, limit: int = 200
) -> list[AccessRequest]:
    """The reviewer's open queue (``queue``), else one's own requests, newest first."""
    statement = select(AccessRequest).order_by(AccessRequest.id.desc()).limit(limit)
    if queue:
        if not is_reviewer(principal):
            return []
        statement = statement.where(
            AccessRequest.state.in_(("diajukan", "telaah_teknis", "telaah_substantif"))
        )
    else:
        statement = statement.where(AccessRequest.pemohon == owner(principal))
    return list(session.scalars(statement))
