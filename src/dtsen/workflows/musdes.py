"""Musyawarah desa (village deliberation): the session that decides a village's visited proposals. Its
berita acara (the signed minutes) is :mod:`dtsen.workflows.berita_acara`.

The life of a session, each step through one function (pages and tests share them):

1. :func:`open_session`: the village's operator opens it (date, place, chair, who attended). Its agenda is
   every proposal (*usulan*) of the village in state ``dikunjungi`` at that moment. Objections
   (*sanggahan*) are deliberately left out: their workflow gives the village no decision (the dinsos
   decides them on the documents or after its ground check, :mod:`dtsen.workflows.machine`), so putting
   them on the agenda would record decisions nothing can act on.
2. :func:`decide_item`: per case *setuju* (the case goes on to the dinsos, ``setujui_musdes``), *tolak*
   (rejected with the reason, ``tolak_musdes``) or *tunda* (postponed: the case stays ``dikunjungi`` and is
   on the next session's agenda). A case moves through :func:`dtsen.workflows.moves.act`, so its history,
   audit and the citizen's Lacak page follow as for any other move.
3. The minutes rendered as a PDF and their signed scan uploaded (:mod:`dtsen.workflows.berita_acara`).
4. :func:`close_session`: only once every case is decided and the signed scan is there.

Rules shared by every step:

* **Only that village's operator** manages a session (403 otherwise, audited); a session outside the
  actor's regions answers like one that does not exist (404, audited ``read_denied``). Dinsos and admin BPS
  may read sessions and their minutes.
* **One open session per village.** Sessions are numbered ``MUSDES-<kode_desa>-<periode>-<n>`` with ``n``
  counted per village and period; the number is unique, so of two sessions opened at the same moment the
  second fails on the number and is refused as a conflict instead of becoming a second open session.
* **Optimistic concurrency.** Every change names the session version the officer saw and is
  ``UPDATE ... WHERE version = :seen`` (as :func:`~dtsen.workflows.moves.act` does for cases).
* **The minutes match the decisions.** A decision or an attendance change clears the stored minutes hash
  and the scan: the minutes have to be printed and signed again, so the scan a closed session keeps is of
  the minutes of its final decisions.
* **Atomic.** The writes of a step happen in one savepoint: a step refused half-way (a case moved by
  someone else meanwhile) leaves nothing behind but the audit entry of the refusal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role, region_clause
from dtsen.store import audit
from dtsen.store.cases import MusdesItem, MusdesSession, WorkflowCase
from dtsen.web.i18n import N_
from dtsen.workflows import cases, moves
from dtsen.workflows.cases import (
    CaseError,
    CaseInvalidError,
    CaseRefusedError,
    CaseStateError,
    Message,
)

MUSDES = cast(Table, MusdesSession.__table__)
RESOURCE = "musdes_session"
AGENDA_KINDS = ("usulan",)  # see the module docstring: objections are decided by the dinsos
AGENDA_STATE = "dikunjungi"
DECISIONS = ("setuju", "tolak", "tunda")
CASE_ACTIONS = {"setuju": "setujui_musdes", "tolak": "tolak_musdes"}
MANAGER_ROLES = frozenset({Role.OPERATOR_DESA})
MAX_ATTENDEES = 200
MAX_TEXT = 200
MAX_NOTE = 2000

DECISION_LABELS: dict[str, str] = {
    "setuju": N_("Disetujui"),
    "tolak": N_("Ditolak"),
    "tunda": N_("Ditunda"),
}


# -- errors ----------------------------------------------------------------------------------------------
class MusdesNotFoundError(CaseError):
    status = 404

    def __init__(self) -> None:
        super().__init__(N_("Musyawarah desa tidak ditemukan di wilayah Anda."))


class ItemNotFoundError(CaseError):
    status = 404

    def __init__(self) -> None:
        super().__init__(N_("Kasus ini tidak ada dalam agenda musyawarah desa ini."))


class MusdesConflictError(CaseError):
    status = 409

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Musyawarah desa ini baru saja diubah oleh petugas lain. Muat ulang halaman, periksa "
                "perubahannya, lalu ulangi bila masih perlu."
            )
        )


class MusdesIncompleteError(CaseInvalidError):
    """Closing refused: what is still missing, each a message."""

    def __init__(self, errors: Mapping[str, Message]) -> None:
        CaseError.__init__(self, N_("Musyawarah desa belum dapat ditutup."))
        self.errors = dict(errors)


# -- helpers -----------------------------------------------------------------------------------------------
def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _deny(session: Session, principal: Principal, region: str | None, purpose: str) -> None:
    audit.record(
        session,
        **principal.audit_fields(),
        action="read_denied",
        resource=RESOURCE,
        region_kode=region if region and region.isdigit() else None,
        purpose=purpose,
    )


def check_manager(
    session: Session,
    principal: Principal,
    kode_desa: str,
    purpose: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Refuse (audited ``access_denied``) anyone but the village's operator: only they manage a session."""
    if principal.role in MANAGER_ROLES:
        return
    audit.record(
        session,
        **principal.audit_fields(),
        action="access_denied",
        resource=RESOURCE,
        region_kode=kode_desa,
        purpose=purpose,
        detail=detail,
    )
    raise CaseRefusedError(N_("Hanya operator desa/kelurahan ini yang dapat mengelola musyawarah desa."))


def require_open(musdes: MusdesSession) -> None:
    """Refuse changing a closed session: its minutes are signed and final."""
    if musdes.status != "dibuka":
        raise CaseStateError(
            N_("Musyawarah desa %(nomor)s sudah ditutup: isinya tidak dapat diubah lagi."), nomor=musdes.nomor
        )


def bump(session: Session, musdes: MusdesSession, version: int, **values: Any) -> None:
    """Change the session if it is still at the version the officer saw (else a conflict)."""
    moved = session.execute(
        update(MusdesSession)
        .where(MusdesSession.id == musdes.id, MusdesSession.version == version)
        .values(version=MusdesSession.version + 1, **values)
    )
    if moved.rowcount != 1:
        raise MusdesConflictError
    session.flush()
    session.refresh(musdes)


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return " ".join(str(value or "").split())[:limit]


def clean_attendance(hadir: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, str]], dict[str, Message]]:
    """The attendance rows with a name (blank rows dropped), and errors: a name without its role in the
    meeting (unsur: kepala desa, BPD, tokoh masyarakat, pendamping ...), or no one at all."""
    rows: list[dict[str, str]] = []
    errors: dict[str, Message] = {}
    for number, entry in enumerate(hadir, start=1):
        nama, unsur = _text(entry.get("nama")), _text(entry.get("unsur"), 100)
        if not nama and not unsur:
            continue
        if not nama:
            errors[f"hadir_{number}"] = (N_("Baris %(n)s: tuliskan nama yang hadir."), {"n": str(number)})
        elif not unsur:
            errors[f"hadir_{number}"] = (
                N_("Baris %(n)s: tuliskan unsur (misalnya BPD, tokoh masyarakat)."),
                {"n": str(number)},
            )
        else:
            rows.append({"nama": nama, "unsur": unsur})
    if not rows and not errors:
        errors["hadir"] = (N_("Tuliskan paling sedikit satu peserta yang hadir."), {})
    if len(rows) > MAX_ATTENDEES:
        errors["hadir"] = (N_("Paling banyak %(n)s peserta."), {"n": str(MAX_ATTENDEES)})
    return rows, errors


# -- reading -----------------------------------------------------------------------------------------------
def get_session(
    session: Session, principal: Principal, session_id: int, *, purpose: str = "musdes", audited: bool = True
) -> MusdesSession:
    """The session if it lies inside the principal's regions; else :class:`MusdesNotFoundError` (audited)."""
    musdes = session.scalars(
        select(MusdesSession).where(MusdesSession.id == session_id, region_clause(principal, MUSDES))
    ).one_or_none()
    if musdes is None:
        _deny(session, principal, None, purpose)
        raise MusdesNotFoundError
    if audited:
        audit.record(
            session,
            **principal.audit_fields(),
            action="read",
            resource=RESOURCE,
            region_kode=musdes.kode_desa,
            purpose=purpose,
            detail={"musdes": musdes.nomor},
        )
    return musdes


def list_sessions(session: Session, principal: Principal, *, limit: int = 50) -> list[MusdesSession]:
    """The sessions of the principal's regions, newest first (no personal data: numbers, dates, places)."""
    return list(
        session.scalars(
            select(MusdesSession)
            .where(region_clause(principal, MUSDES))
            .order_by(MusdesSession.opened_at.desc(), MusdesSession.id.desc())
            .limit(max(1, min(limit, 500)))
        )
    )


def open_session_of(session: Session, kode_desa: str) -> MusdesSession | None:
    return session.scalars(
        select(MusdesSession).where(MusdesSession.kode_desa == kode_desa, MusdesSession.status == "dibuka")
    ).first()


def waiting_cases(session: Session, kode_desa: str) -> list[WorkflowCase]:
    """The village's cases a session opened now would put on its agenda, oldest first."""
    return list(
        session.scalars(
            select(WorkflowCase)
            .where(
                WorkflowCase.kode_desa == kode_desa,
                WorkflowCase.jenis.in_(AGENDA_KINDS),
                WorkflowCase.state == AGENDA_STATE,
            )
            .order_by(WorkflowCase.opened_at, WorkflowCase.id)
        )
    )


@dataclass(frozen=True)
class AgendaItem:
    item: MusdesItem
    case: WorkflowCase


def agenda(session: Session, musdes: MusdesSession) -> list[AgendaItem]:
    rows = session.execute(
        select(MusdesItem, WorkflowCase)
        .join(WorkflowCase, WorkflowCase.id == MusdesItem.case_id)
        .where(MusdesItem.session_id == musdes.id)
        .order_by(MusdesItem.id)
    ).all()
    return [AgendaItem(item, case) for item, case in rows]


# -- opening -----------------------------------------------------------------------------------------------
def open_session(
    session: Session,
    principal: Principal,
    kode_desa: str,
    tanggal: date,
    tempat: str,
    pimpinan: str,
    hadir: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> MusdesSession:
    """Open the village's session with its agenda (see the module docstring); audited as ``create``."""
    kode_desa = str(kode_desa or "").strip()
    if len(kode_desa) != 10 or not kode_desa.isdigit():
        raise CaseInvalidError({"desa": (N_("Kode desa/kelurahan harus 10 angka."), {})})
    if not principal.may_see_region(kode_desa):
        _deny(session, principal, kode_desa, "musdes_buka")
        raise MusdesNotFoundError
    check_manager(session, principal, kode_desa, "musdes_buka")
    errors: dict[str, Message] = {}
    tempat, pimpinan = _text(tempat), _text(pimpinan)
    if not isinstance(tanggal, date):
        errors["tanggal"] = (N_("Tuliskan tanggal musyawarah."), {})
    if not tempat:
        errors["tempat"] = (N_("Tuliskan tempat musyawarah."), {})
    if not pimpinan:
        errors["pimpinan"] = (N_("Tuliskan nama pimpinan musyawarah."), {})
    attendees, attendance_errors = clean_attendance(hadir)
    errors.update(attendance_errors)
    if errors:
        raise CaseInvalidError(errors)
    already = open_session_of(session, kode_desa)
    if already is not None:
        raise CaseStateError(
            N_("Musyawarah desa %(nomor)s masih dibuka. Tutup dulu sebelum membuka yang baru."),
            nomor=already.nomor,
        )
    waiting = waiting_cases(session, kode_desa)
    if not waiting:
        raise CaseStateError(
            N_("Belum ada usulan yang sudah dikunjungi untuk dibahas dalam musyawarah desa.")
        )
    moment = _now(now)
    periode = cases.target_period(session, moment)
    count = session.scalar(
        select(func.count()).where(MusdesSession.kode_desa == kode_desa, MusdesSession.periode == periode)
    )
    nomor = f"MUSDES-{kode_desa}-{periode}-{int(count or 0) + 1}"
    musdes = MusdesSession(
        nomor=nomor,
        periode=periode,
        kode_prov=kode_desa[:2],
        kode_kab=kode_desa[:4],
        kode_kec=kode_desa[:6],
        kode_desa=kode_desa,
        status="dibuka",
        version=1,
        tanggal=tanggal,
        tempat=tempat,
        pimpinan=pimpinan,
        hadir=attendees,
        opened_by=principal.name,
        opened_at=moment,
    )
    try:
        with session.begin_nested():
            session.add(musdes)
            session.flush()
            session.add_all(
                MusdesItem(session_id=musdes.id, case_id=case.id, decided=False) for case in waiting
            )
            audit.record(
                session,
                **principal.audit_fields(),
                action="create",
                resource=RESOURCE,
                region_kode=kode_desa,
                purpose="musdes",
                detail={"musdes": nomor, "agenda": len(waiting)},
            )
    except IntegrityError:  # the same number taken by a session opened at the same moment
        raise MusdesConflictError from None
    return musdes


# -- deciding ----------------------------------------------------------------------------------------------
def decide_item(
    session: Session,
    principal: Principal,
    session_id: int,
    case_id: int,
    keputusan: str,
    catatan: str | None,
    version: int,
    *,
    now: datetime | None = None,
) -> MusdesItem:
    """Record the decision on one agenda case; *setuju* and *tolak* move the case (see the module
    docstring). A decided case cannot be decided again; a postponed one can, while the session is open."""
    musdes = get_session(session, principal, session_id, purpose="musdes_putuskan", audited=False)
    check_manager(session, principal, musdes.kode_desa, "musdes_putuskan", {"musdes": musdes.nomor})
    require_open(musdes)
    decision = str(keputusan or "").strip().lower()
    note = str(catatan or "").strip()[:MAX_NOTE]
    errors: dict[str, Message] = {}
    if decision not in DECISIONS:
        errors["keputusan"] = (N_("Pilih keputusan: setuju, tolak atau tunda."), {})
    elif decision == "tolak" and not note:
        errors["catatan"] = (N_("Tuliskan alasan penolakan."), {})
    if errors:
        raise CaseInvalidError(errors)
    item = session.scalars(
        select(MusdesItem).where(MusdesItem.session_id == musdes.id, MusdesItem.case_id == case_id)
    ).one_or_none()
    if item is None:
        raise ItemNotFoundError
    if item.decided and item.keputusan in CASE_ACTIONS:
        raise CaseStateError(N_("Kasus ini sudah diputuskan dalam musyawarah desa ini."))
    case = session.get(WorkflowCase, case_id)
    assert case is not None  # the item's foreign key
    with session.begin_nested():
        bump(session, musdes, version, berita_acara_sha256=None, scan_sha256=None, scan_mime=None)
        if decision in CASE_ACTIONS:
            fields = {"musdes": musdes.nomor, **({"alasan": note} if note else {})}
            case = moves.act(
                session,
                principal,
                case.id,
                CASE_ACTIONS[decision],
                version=case.version,
                fields=fields,
                idempotency_key=f"{musdes.nomor}-{case.id}"[:64],
                now=now,
            )
        item.keputusan, item.catatan, item.decided = decision, note or None, True
        session.flush()
        audit.record(
            session,
            **principal.audit_fields(),
            action="decide",
            resource=RESOURCE,
            subject=case.subject_ref,
            region_kode=musdes.kode_desa,
            purpose="musdes",
            detail={"musdes": musdes.nomor, "kasus": case.nomor, "keputusan": decision},
        )
    return item


def update_attendance(
    session: Session, principal: Principal, session_id: int, hadir: Sequence[Mapping[str, Any]], version: int
) -> MusdesSession:
    """Replace the attendance list while the session is open (the minutes must then be signed again)."""
    musdes = get_session(session, principal, session_id, purpose="musdes_hadir", audited=False)
    check_manager(session, principal, musdes.kode_desa, "musdes_hadir", {"musdes": musdes.nomor})
    require_open(musdes)
    attendees, errors = clean_attendance(hadir)
    if errors:
        raise CaseInvalidError(errors)
    with session.begin_nested():
        bump(
            session,
            musdes,
            version,
            hadir=attendees,
            berita_acara_sha256=None,
            scan_sha256=None,
            scan_mime=None,
        )
        audit.record(
            session,
            **principal.audit_fields(),
            action="update",
            resource=RESOURCE,
            region_kode=musdes.kode_desa,
            purpose="musdes_hadir",
            detail={"musdes": musdes.nomor, "hadir": len(attendees)},
        )
    return musdes


# -- closing -----------------------------------------------------------------------------------------------
def close_session(
    session: Session, principal: Principal, session_id: int, version: int, *, now: datetime | None = None
) -> MusdesSession:
    """Close the session: refused (422, saying what is missing) until every case is decided and the
    signed minutes of those decisions are uploaded; audited as ``close``."""
    musdes = get_session(session, principal, session_id, purpose="musdes_tutup", audited=False)
    check_manager(session, principal, musdes.kode_desa, "musdes_tutup", {"musdes": musdes.nomor})
    require_open(musdes)
    undecided = session.scalar(
        select(func.count()).where(MusdesItem.session_id == musdes.id, MusdesItem.decided.is_(False))
    )
    missing: dict[str, Message] = {}
    if undecided:
        missing["keputusan"] = (N_("Masih ada %(n)s kasus yang belum diputuskan."), {"n": str(undecided)})
    if not musdes.berita_acara_sha256:
        missing["berita_acara"] = (N_("Berita acara dengan keputusan terakhir belum diunduh."), {})
    if not musdes.scan_sha256:
        missing["pindaian"] = (N_("Pindaian berita acara yang sudah ditandatangani belum diunggah."), {})
    if missing:
        raise MusdesIncompleteError(missing)
    moment = _now(now)
    with session.begin_nested():
        bump(session, musdes, version, status="ditutup", closed_by=principal.name, closed_at=moment)
        audit.record(
            session,
            **principal.audit_fields(),
            action="close",
            resource=RESOURCE,
            region_kode=musdes.kode_desa,
            purpose="musdes",
            detail={
                "musdes": musdes.nomor,
                "berita_acara": musdes.berita_acara_sha256,
                "pindaian": musdes.scan_sha256,
            },
        )
    return musdes
