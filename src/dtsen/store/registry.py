"""Reads of the served registry: every one scoped by :func:`dtsen.auth.scope.apply_scope` and audited.

The functions take the caller's :class:`~sqlalchemy.orm.Session` and never commit: the audit entries
they append (:func:`dtsen.store.audit.record`) join the caller's unit of work, so a request's reads and
its trail commit together. Each read resolves the current snapshot once and reads only its rows, so a
snapshot switch during a request never mixes two snapshots.

* A row outside the principal's regions is absent: the answer is exactly that of a missing row (None or
  empty), and the attempt is audited as ``read_denied``.
* Every read that returns personal data appends one audit entry per person returned (keyed by their NIK,
  so a citizen's "who read my data" finds it).
* The one public, unscoped read is :func:`dtsen.store.citizen_check.citizen_status`; names are compared
  as :func:`dtsen.store.person_names.normalize_name` spells them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, apply_scope
from dtsen.store import audit
from dtsen.store.person_names import normalize_name
from dtsen.store.served import (
    ServedEligibility,
    ServedFamily,
    ServedPerson,
    ServedProvenance,
    ServedProvenancePola,
    ServedSnapshot,
)

SNAPSHOT = cast(Table, ServedSnapshot.__table__)
FAMILY = cast(Table, ServedFamily.__table__)
PERSON = cast(Table, ServedPerson.__table__)
ELIGIBILITY = cast(Table, ServedEligibility.__table__)
PROVENANCE = cast(Table, ServedProvenance.__table__)
POLA = cast(Table, ServedProvenancePola.__table__)

SEARCH_LIMIT_MAX = 200
MEMBER_COLUMNS = (
    "id_dtsen",
    "id_keluarga_dtsen",
    "nik",
    "no_kk",
    "nama",
    "nama_ibu_kandung",
    "tanggal_lahir",
    "jenis_kelamin",
    "hubungan",
    "status_hidup",
    "umur",
    "status_padan",
    "bukti_status",
    "di_dukcapil",
    "sumber_data",
    "segmen_bpjs",
    "kode_prov",
    "kode_kab",
    "kode_kec",
    "kode_desa",
    "atribut",
)
DIGITS16 = re.compile(r"^\d{16}$")  # a NIK or a KK number


# -- answers -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnapshotInfo:
    """The served snapshot a read came from."""

    id: int
    ref: str
    periode: str
    versi: int
    created_at: datetime
    loaded_at: datetime | None
    versi_model: str | None
    is_current: bool
    counts: dict[str, Any] = field(default_factory=dict)
    programs: dict[str, str] = field(default_factory=dict)  # program code -> name


@dataclass(frozen=True)
class PersonHit:
    """One person found by :func:`search_persons`."""

    id_dtsen: str
    id_keluarga_dtsen: str | None
    nik: str | None
    no_kk: str | None
    nama: str | None
    jenis_kelamin: int | None
    tanggal_lahir: date | None
    umur: int | None
    hubungan: int | None
    status_hidup: bool | None
    status_padan: int | None
    kode_desa: str | None


@dataclass(frozen=True)
class FamilyDetail:
    """A family page: the family row (every column, ``atribut`` included), its members, its program
    decisions, and where each attribute came from (``{atribut: {sumber, batch_id, tanggal_data}}``)."""

    snapshot: SnapshotInfo
    family: dict[str, Any]
    members: list[dict[str, Any]]
    programs: list[dict[str, Any]]
    family_provenance: dict[str, Any]
    person_provenance: dict[str, dict[str, Any]]  # id_dtsen -> map

    @property
    def eligibility(self) -> list[dict[str, Any]]:
        return self.programs


@dataclass(frozen=True)
class HistoryEntry:
    """The family in one loaded snapshot (oldest first in :func:`family_history`)."""

    ref: str
    periode: str
    is_current: bool
    jumlah_anggota: int | None
    desil_nasional: int | None
    desil_provinsi: int | None
    desil_kabkota: int | None
    status_peringkat: str | None
    programs: list[dict[str, Any]]  # {program, nama, layak, nilai_tahunan}


# -- internals ---------------------------------------------------------------------------------------------
def _snapshot_info(row: Any) -> SnapshotInfo:
    return SnapshotInfo(
        id=row.id,
        ref=row.ref,
        periode=row.periode,
        versi=row.versi,
        created_at=row.created_at,
        loaded_at=row.loaded_at,
        versi_model=row.versi_model,
        is_current=bool(row.is_current),
        counts=dict(row.counts or {}),
        programs=dict(row.programs or {}),
    )


def _audit_people(
    session: Session,
    principal: Principal,
    *,
    action: str,
    resource: str,
    people: Iterable[tuple[str | None, str | None]],
    purpose: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One audit entry per person read (``(nik, kode_desa)``); one without a subject if there is none."""
    rows = list(people) or [(None, None)]
    for nik, kode_desa in rows:
        audit.record(
            session,
            **principal.audit_fields(),
            action=action,
            resource=resource,
            nik=nik or None,
            region_kode=kode_desa or None,
            purpose=purpose,
            detail=detail,
        )


def _row_dict(row: Any) -> dict[str, Any]:
    return {key: value for key, value in row._mapping.items() if key != "snapshot_id"}


def _provenance_maps(session: Session, snapshot_id: int, entitas: str, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = session.execute(
        select(PROVENANCE.c.id, POLA.c.atribut)
        .join(POLA, and_(POLA.c.snapshot_id == PROVENANCE.c.snapshot_id, POLA.c.pola == PROVENANCE.c.pola))
        .where(
            PROVENANCE.c.snapshot_id == snapshot_id, PROVENANCE.c.entitas == entitas, PROVENANCE.c.id.in_(ids)
        )
    ).all()
    return {row.id: row.atribut for row in rows}


def _programs(snapshot: SnapshotInfo, rows: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = _row_dict(row)
        item["nama"] = snapshot.programs.get(item["program"], item["program"])
        out.append(item)
    return sorted(out, key=lambda item: str(item["program"]))


# -- reads -------------------------------------------------------------------------------------------------
def current_snapshot(session: Session) -> SnapshotInfo | None:
    """The snapshot being served, or None before the first load."""
    row = session.execute(select(SNAPSHOT).where(SNAPSHOT.c.is_current)).one_or_none()
    return None if row is None else _snapshot_info(row)


def loaded_snapshots(session: Session) -> list[SnapshotInfo]:
    """Every ready snapshot, oldest period and version first (history and ``dtsen serve status``)."""
    rows = session.execute(
        select(SNAPSHOT).where(SNAPSHOT.c.status == "ready").order_by(SNAPSHOT.c.periode, SNAPSHOT.c.versi)
    ).all()
    return [_snapshot_info(row) for row in rows]


def ready_and_previous(session: Session, ref: str) -> tuple[Any, Any]:
    """The ready served snapshot ``ref`` (id, ref, periode, versi, created_at) and the ready one before it
    (id, ref; None for the first): what a job after a publish compares. Unscoped, like the reads above:
    snapshot rows hold no personal data. ValueError if ``ref`` is not loaded."""
    snap = session.execute(
        select(SNAPSHOT.c.id, SNAPSHOT.c.ref, SNAPSHOT.c.periode, SNAPSHOT.c.versi, SNAPSHOT.c.created_at)
        .where(SNAPSHOT.c.ref == ref, SNAPSHOT.c.status == "ready")
        .order_by(SNAPSHOT.c.id.desc())
        .limit(1)
    ).one_or_none()
    if snap is None:
        raise ValueError(f"snapshot {ref!r} is not loaded (ready) in the serving database")
    before = or_(
        SNAPSHOT.c.periode < snap.periode,
        and_(SNAPSHOT.c.periode == snap.periode, SNAPSHOT.c.versi < snap.versi),
    )
    previous = session.execute(
        select(SNAPSHOT.c.id, SNAPSHOT.c.ref)
        .where(SNAPSHOT.c.status == "ready", before)
        .order_by(SNAPSHOT.c.periode.desc(), SNAPSHOT.c.versi.desc())
        .limit(1)
    ).one_or_none()
    return snap, previous


def search_persons(
    session: Session,
    principal: Principal,
    *,
    nik: str | None = None,
    no_kk: str | None = None,
    nama: str | None = None,
    kode_desa: str | None = None,
    limit: int = 50,
    purpose: str | None = None,
) -> list[PersonHit]:
    """Persons of the current snapshot inside the principal's regions, by exactly one criterion: ``nik``,
    ``no_kk``, or ``nama`` with ``kode_desa`` (every word of the normalised name, in any order, within
    the village). At most ``limit`` (<= 200), ordered by name. Raises ValueError on a malformed query.

    Audited: one ``read`` entry per person returned; ``read_denied`` if only rows outside the principal's
    regions matched.
    """
    given = [name for name, value in (("nik", nik), ("no_kk", no_kk), ("nama", nama)) if value]
    if len(given) != 1:
        raise ValueError("search by exactly one of nik, no_kk, or nama with kode_desa")
    limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
    snapshot = current_snapshot(session)
    if snapshot is None:
        return []
    criterion = given[0]
    base = select(*(PERSON.c[c] for c in PersonHit.__dataclass_fields__)).where(
        PERSON.c.snapshot_id == snapshot.id
    )
    if nik:
        if not DIGITS16.match(nik):
            raise ValueError("nik: 16 digits")
        base = base.where(PERSON.c.nik == nik)
    elif no_kk:
        if not DIGITS16.match(no_kk):
            raise ValueError("no_kk: 16 digits")
        base = base.where(PERSON.c.no_kk == no_kk)
    else:
        if not kode_desa or not re.fullmatch(r"\d{10}", kode_desa):
            raise ValueError("a name search needs the village code (kode_desa, 10 digits)")
        words = normalize_name(nama).split()
        if not words:
            raise ValueError("nama: no letters to search by")
        base = base.where(PERSON.c.kode_desa == kode_desa)
        for word in words:
            base = base.where(PERSON.c.nama_norm.contains(word, autoescape=True))
    scoped = apply_scope(base, principal, PERSON).order_by(PERSON.c.nama, PERSON.c.id_dtsen).limit(limit)
    hits = [PersonHit(**row._mapping) for row in session.execute(scoped)]
    detail = {"kriteria": criterion, "snapshot": snapshot.ref, "hasil": len(hits)}
    if hits:
        _audit_people(
            session,
            principal,
            action="read",
            resource="served_person",
            people=((h.nik, h.kode_desa) for h in hits),
            purpose=purpose,
            detail=detail,
        )
    else:
        hidden = session.execute(base.limit(1)).first()  # unscoped: 'out of region' or 'absent'?
        if hidden is not None:
            _audit_people(
                session,
                principal,
                action="read_denied",
                resource="served_person",
                people=[(nik, hidden.kode_desa)],
                purpose=purpose,
                detail=detail,
            )
    return hits


def _family_row(session: Session, snapshot_id: int, family_id: str, principal: Principal) -> Any:
    statement = select(FAMILY).where(
        FAMILY.c.snapshot_id == snapshot_id, FAMILY.c.id_keluarga_dtsen == family_id
    )
    return session.execute(apply_scope(statement, principal, FAMILY)).one_or_none()


def _denied_family(
    session: Session,
    principal: Principal,
    snapshot_id: int,
    family_id: str,
    resource: str,
    purpose: str | None,
) -> None:
    """Audit an attempt on a family that exists but lies outside the principal's regions."""
    row = session.execute(
        select(FAMILY.c.kode_desa).where(
            FAMILY.c.snapshot_id == snapshot_id, FAMILY.c.id_keluarga_dtsen == family_id
        )
    ).one_or_none()
    if row is None:
        return
    audit.record(
        session,
        **principal.audit_fields(),
        action="read_denied",
        resource=resource,
        region_kode=row.kode_desa,
        purpose=purpose,
        detail={"id_keluarga_dtsen": family_id},
    )


def family_detail(
    session: Session, principal: Principal, family_id: str, *, purpose: str | None = None
) -> FamilyDetail | None:
    """The family of the current snapshot with members, program decisions and provenance; None when it
    does not exist or lies outside the principal's regions (audited as ``read_denied``).

    Members are the persons of the family (scoped through the family: a member registered elsewhere is
    still shown with the family the principal may see). Audited: one ``read`` entry per member.
    """
    snapshot = current_snapshot(session)
    if snapshot is None or not family_id:
        return None
    row = _family_row(session, snapshot.id, family_id, principal)
    if row is None:
        _denied_family(session, principal, snapshot.id, family_id, "served_family", purpose)
        return None
    members = [
        _row_dict(r)
        for r in session.execute(
            select(*(PERSON.c[c] for c in MEMBER_COLUMNS))
            .where(PERSON.c.snapshot_id == snapshot.id, PERSON.c.id_keluarga_dtsen == family_id)
            .order_by(PERSON.c.hubungan, PERSON.c.id_dtsen)
        )
    ]
    programs = _programs(
        snapshot,
        session.execute(
            select(ELIGIBILITY).where(
                ELIGIBILITY.c.snapshot_id == snapshot.id, ELIGIBILITY.c.id_keluarga_dtsen == family_id
            )
        ),
    )
    family_prov = _provenance_maps(session, snapshot.id, "family", [family_id]).get(family_id) or {}
    person_prov = _provenance_maps(session, snapshot.id, "person", [m["id_dtsen"] for m in members])
    family = _row_dict(row)
    _audit_people(
        session,
        principal,
        action="read",
        resource="served_family",
        people=[(m["nik"], family["kode_desa"]) for m in members],
        purpose=purpose,
        detail={"id_keluarga_dtsen": family_id, "snapshot": snapshot.ref},
    )
    return FamilyDetail(snapshot, family, members, programs, family_prov, person_prov)


def family_history(
    session: Session, principal: Principal, family_id: str, *, purpose: str | None = None
) -> list[HistoryEntry] | None:
    """The family in every loaded snapshot where it exists (oldest first): desil, members, programs.

    None when the family is absent from the current snapshot or outside the principal's regions there;
    older rows outside the principal's regions (a family that moved) are left out like any other.
    """
    current = current_snapshot(session)
    if current is None or not family_id:
        return None
    if _family_row(session, current.id, family_id, principal) is None:
        _denied_family(session, principal, current.id, family_id, "served_family_history", purpose)
        return None
    statement = (
        select(
            SNAPSHOT.c.id,
            SNAPSHOT.c.ref,
            SNAPSHOT.c.periode,
            SNAPSHOT.c.is_current,
            SNAPSHOT.c.programs,
            FAMILY.c.jumlah_anggota,
            FAMILY.c.desil_nasional,
            FAMILY.c.desil_provinsi,
            FAMILY.c.desil_kabkota,
            FAMILY.c.status_peringkat,
            FAMILY.c.kode_desa,
        )
        .join(SNAPSHOT, SNAPSHOT.c.id == FAMILY.c.snapshot_id)
        .where(FAMILY.c.id_keluarga_dtsen == family_id, SNAPSHOT.c.status == "ready")
        .order_by(SNAPSHOT.c.periode, SNAPSHOT.c.versi)
    )
    rows = session.execute(apply_scope(statement, principal, FAMILY)).all()
    decisions: dict[int, list[dict[str, Any]]] = {}
    for e in session.execute(
        select(
            ELIGIBILITY.c.snapshot_id, ELIGIBILITY.c.program, ELIGIBILITY.c.layak, ELIGIBILITY.c.nilai_tahunan
        )
        .where(
            ELIGIBILITY.c.id_keluarga_dtsen == family_id, ELIGIBILITY.c.snapshot_id.in_([r.id for r in rows])
        )
        .order_by(ELIGIBILITY.c.program)
    ):
        decisions.setdefault(e.snapshot_id, []).append(
            {"program": e.program, "layak": e.layak, "nilai_tahunan": e.nilai_tahunan}
        )
    entries = []
    for r in rows:
        names = r.programs or {}
        programs = [{**d, "nama": names.get(d["program"], d["program"])} for d in decisions.get(r.id, [])]
        entries.append(
            HistoryEntry(
                ref=r.ref,
                periode=r.periode,
                is_current=bool(r.is_current),
                jumlah_anggota=r.jumlah_anggota,
                desil_nasional=r.desil_nasional,
                desil_provinsi=r.desil_provinsi,
                desil_kabkota=r.desil_kabkota,
                status_peringkat=r.status_peringkat,
                programs=programs,
            )
        )
    audit.record(
        session,
        **principal.audit_fields(),
        action="read",
        resource="served_family_history",
        region_kode=rows[-1].kode_desa if rows else None,
        purpose=purpose,
        detail={"id_keluarga_dtsen": family_id, "snapshots": len(entries)},
    )
    return entries
