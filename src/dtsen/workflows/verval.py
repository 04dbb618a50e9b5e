"""Ground checks (verval): who gets visited this period, and what a visit found.

**Planning** (:func:`plan_assignments`) opens one verval case per family chosen from the served snapshot of
a kab/kota, assigned to a pendamping of the family's desa, at most ``quota`` per pendamping and period. The
families the registry is least sure about go first, because a visit changes most there:

``priority = TANPA_DATA`` (2.0) for a family the model could not rank for lack of housing/asset data
(``tidak_diperingkat`` / ``tanpa_observasi``: issue 18's field queue), 1.75 for other unranked families;
for a ranked family ``max(u4, u5) + 0.5 * borderline`` with ``u = 1 - |p - 0.5| * 2`` for ``p`` =
P(desil <= 4) and P(desil <= 5): 1 when the family is a coin flip at a program cut-off, 0 when it is
certain. Ranked families below ``MIN_PRIORITY`` (0.2: more than 90 % sure on both sides of both cut-offs)
are not worth a visit and are left out even when quota remains. Objections and proposals already waiting
for a visit (state ``kunjungan``) keep their own cases; a plan only orders them, after every planned
ground check (priority ``EXISTING_VISIT`` when none was set).

**A visit's result** (:func:`observed_changes`, :func:`member_notes`, :func:`check_gps`): the housing and
asset values the pendamping observed, compared with the served ones, give the ``perubahan`` the dinsos
approves into the next cycle (only attributes the corrections path accepts,
:func:`dtsen.cycle.corrections.correctable`). Members found dead, moved or new are notes for the dinsos,
never changes: identity and civil status are Dukcapil's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store.cases import WorkflowCase
from dtsen.tables import RankingStatus, UnrankedReason
from dtsen.web.i18n import N_
from dtsen.workflows import cases, moves

TANPA_DATA = 2.0
UNRANKED = 1.75
BORDERLINE_BONUS = 0.5
MIN_PRIORITY = 0.2
EXISTING_VISIT = 0.1
VISIT_ACTION = "laporkan_kunjungan"
MAX_QUOTA = 500

HOUSING = (
    "status_bangunan",
    "luas_lantai",
    "lantai",
    "dinding",
    "atap",
    "sumber_air_minum",
    "sumber_penerangan",
    "daya_listrik",
    "bahan_bakar_masak",
    "fasilitas_bab",
)
# Presence of a current member at the visit (Regsosek 402, simplified to what a pendamping can see).
KEBERADAAN = {
    "ada": N_("Tinggal bersama keluarga"),
    "meninggal": N_("Meninggal"),
    "pindah": N_("Pindah"),
    "tidak_ditemukan": N_("Tidak ditemukan"),
}
# No polygons or centroids of regions are packaged (dtsen.reference has codes and names only), so a point
# can only be checked against Indonesia's bounding box: a point outside it is surely wrong (a phone that
# had no fix, swapped lat/lon); a point in the wrong kab/kota inside the box is not caught.
INDONESIA_BOX = (-11.5, 6.5, 94.5, 141.5)  # lat min, lat max, lon min, lon max


# -- planning ------------------------------------------------------------------------------------------------
def priority_of(row: Any) -> float | None:
    """How much a visit to this family is worth (module docstring); None when it is not worth one."""
    if row.status_peringkat == RankingStatus.TIDAK_DIPERINGKAT or row.desil_nasional is None:
        return TANPA_DATA if row.alasan_tidak_diperingkat == UnrankedReason.TANPA_OBSERVASI else UNRANKED
    closeness = [1.0 - abs(float(p) - 0.5) * 2.0 for p in (row.p_desil_le4, row.p_desil_le5) if p is not None]
    value = max(closeness, default=0.0) + (BORDERLINE_BONUS if row.borderline else 0.0)
    return round(value, 4) if value >= MIN_PRIORITY else None


def pendamping_of_kab(session: Session, kode_kab: str) -> dict[str, list[str]]:
    """``{kode_desa: [username, ...]}`` of the active pendamping bound to villages of the kab/kota."""
    from dtsen.store.identity import StaffUser, StaffUserRegion

    rows = session.execute(
        select(StaffUserRegion.kode, StaffUser.username)
        .join(StaffUser, StaffUser.id == StaffUserRegion.user_id)
        .where(
            StaffUser.role == Role.PENDAMPING.value,
            StaffUser.active.is_(True),
            StaffUserRegion.kode.startswith(kode_kab, autoescape=True),
        )
        .order_by(StaffUserRegion.kode, StaffUser.username)
    ).all()
    found: dict[str, list[str]] = {}
    for kode, username in rows:
        if len(kode) == 10:
            found.setdefault(kode, []).append(username)
    return found


@dataclass(frozen=True)
class Candidate:
    id_keluarga_dtsen: str
    kode_desa: str
    priority: float
    alasan: str  # tanpa_data | tidak_diperingkat | borderline | ragu


def candidates(session: Session, kode_kab: str, desas: Sequence[str]) -> list[Candidate]:
    """Families of the current snapshot in these villages worth a visit, highest priority first."""
    from dtsen.store.registry import FAMILY, SNAPSHOT

    if not desas:
        return []
    rows = session.execute(
        select(
            FAMILY.c.id_keluarga_dtsen,
            FAMILY.c.kode_desa,
            FAMILY.c.status_peringkat,
            FAMILY.c.alasan_tidak_diperingkat,
            FAMILY.c.desil_nasional,
            FAMILY.c.p_desil_le4,
            FAMILY.c.p_desil_le5,
            FAMILY.c.borderline,
        )
        .join(SNAPSHOT, and_(SNAPSHOT.c.id == FAMILY.c.snapshot_id, SNAPSHOT.c.is_current))
        .where(FAMILY.c.kode_kab == kode_kab, FAMILY.c.kode_desa.in_(list(desas)))
    ).all()
    found = []
    for row in rows:
        priority = priority_of(row)
        if priority is None:
            continue
        if priority == TANPA_DATA:
            alasan = "tanpa_data"
        elif priority == UNRANKED:
            alasan = "tidak_diperingkat"
        else:
            alasan = "borderline" if row.borderline else "ragu"
        found.append(Candidate(row.id_keluarga_dtsen, row.kode_desa, priority, alasan))
    return sorted(found, key=lambda c: (-c.priority, c.id_keluarga_dtsen))


def plan_assignments(
    session: Session,
    principal: Principal,
    kode_kab: str,
    periode: str | None,
    quota_per_pendamping: int,
    pendamping_by_desa: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
) -> list[WorkflowCase]:
    """Open this period's ground checks of a kab/kota, most uncertain families first (see the module
    docstring), each assigned to the pendamping of its desa with the fewest ground checks this period,
    none over ``quota_per_pendamping`` (ground checks already assigned this period count). A family with
    an open ground check this period is skipped, so running the plan again only tops up. Returns the
    cases opened, in priority order; each is audited by :func:`dtsen.workflows.cases.open_case`.

    Only the dinsos of the kab/kota plans (:class:`~dtsen.workflows.cases.CaseRefusedError` otherwise);
    ``pendamping_by_desa`` defaults to the active pendamping bound to its villages.
    """
    if principal.role is not Role.DINSOS:
        raise cases.CaseRefusedError(N_("Rencana kunjungan dibuat oleh dinas sosial kabupaten/kota."))
    if len(kode_kab) != 4 or not kode_kab.isdigit() or not principal.may_see_region(kode_kab):
        raise cases.CaseRefusedError(N_("Kabupaten/kota ini di luar wilayah Anda."))
    if not 1 <= quota_per_pendamping <= MAX_QUOTA:
        raise cases.CaseInvalidError(
            {"kuota": (N_("Kuota per pendamping 1 sampai %(batas)s kunjungan."), {"batas": str(MAX_QUOTA)})}
        )
    periode = periode or cases.target_period(session, now)
    staff = pendamping_by_desa if pendamping_by_desa is not None else pendamping_of_kab(session, kode_kab)
    staff = {desa: sorted(set(names)) for desa, names in staff.items() if desa.startswith(kode_kab) and names}
    load: dict[str, int] = {name: 0 for names in staff.values() for name in names}
    taken: set[str] = set()
    existing = session.execute(
        select(WorkflowCase.id_keluarga_dtsen, WorkflowCase.assigned_to, WorkflowCase.closed_at).where(
            WorkflowCase.jenis == "verval", WorkflowCase.periode == periode, WorkflowCase.kode_kab == kode_kab
        )
    ).all()
    for family, assigned, closed_at in existing:
        if assigned in load:
            load[assigned] += 1
        if family and closed_at is None:
            taken.add(family)
    opened: list[WorkflowCase] = []
    for candidate in candidates(session, kode_kab, sorted(staff)):
        if candidate.id_keluarga_dtsen in taken:
            continue
        free = [name for name in staff[candidate.kode_desa] if load[name] < quota_per_pendamping]
        if not free:
            continue
        pendamping = min(free, key=lambda name: (load[name], name))
        spec = cases.CaseInput(
            jenis="verval",
            periode=periode,
            kode_desa=candidate.kode_desa,
            asal="dinsos",
            kategori=candidate.alasan,
            id_keluarga_dtsen=candidate.id_keluarga_dtsen,
            assigned_to=pendamping,
            priority=candidate.priority,
            data={"alasan_kunjungan": candidate.alasan},
        )
        opened.append(cases.open_case(session, principal, spec, now=now))
        load[pendamping] += 1
        taken.add(candidate.id_keluarga_dtsen)
    _order_existing_visits(session, kode_kab)
    return opened


def _order_existing_visits(session: Session, kode_kab: str) -> None:
    """Proposals and objections waiting for a visit, with no priority yet, go after the ground checks."""
    session.execute(
        update(WorkflowCase)
        .where(
            WorkflowCase.kode_kab == kode_kab,
            WorkflowCase.jenis.in_(("usulan", "sanggahan")),
            WorkflowCase.state == "kunjungan",
            WorkflowCase.closed_at.is_(None),
            WorkflowCase.priority == 0.0,
        )
        .values(priority=EXISTING_VISIT)
    )


# -- the visit -----------------------------------------------------------------------------------------------
def visit_case(session: Session, principal: Principal, case_id: int) -> WorkflowCase:
    """The case if ``principal`` may report its visit now: out of region 404, another pendamping's or no
    visit pending 403/409 (refusals audited by the service)."""
    case = cases.get_case(session, principal, case_id, purpose="kunjungan", audited=False)
    workflow = cases.workflow_of(case.jenis)
    transition = workflow.transition(VISIT_ACTION) if VISIT_ACTION in _actions(workflow) else None
    if transition is None or case.state not in transition.sources:
        raise cases.CaseStateError(N_("Kasus ini tidak sedang menunggu kunjungan."))
    moves.check_actor(session, principal, case, transition)  # the one rule of who may report, reused
    return case


def _actions(workflow: Any) -> set[str]:
    return {transition.action for transition in workflow.transitions}


def served_family(session: Session, family_id: str | None) -> dict[str, Any] | None:
    """The family's housing and asset values in the current snapshot (``atribut`` flattened)."""
    from dtsen.store.registry import FAMILY, SNAPSHOT

    if not family_id:
        return None
    row = session.execute(
        select(
            FAMILY.c.id_keluarga_dtsen, FAMILY.c.kode_kab, FAMILY.c.atribut, *(FAMILY.c[n] for n in HOUSING)
        )
        .join(SNAPSHOT, and_(SNAPSHOT.c.id == FAMILY.c.snapshot_id, SNAPSHOT.c.is_current))
        .where(FAMILY.c.id_keluarga_dtsen == family_id)
    ).one_or_none()
    if row is None:
        return None
    values = dict(row.atribut or {})
    values.update({name: getattr(row, name) for name in HOUSING})
    values["kode_kab"] = row.kode_kab
    return values


def asset_fields() -> list[str]:
    """The yes/no asset attributes a visit can observe and the corrections path can set."""
    from dtsen.reference.codes import Aset

    return [member.field for member in Aset] + ["lahan_lain", "rumah_lain", "internet"]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def observed_changes(
    session: Session, case: WorkflowCase, observed: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The ``perubahan`` of a visit: each observed housing/asset value that differs from the served one
    and that a correction may set (``{entitas: family, id, atribut, nilai_baru, nilai_lama}``). A value
    not observed (None or absent) changes nothing; a case without a served family has nothing to compare
    with and yields none (its observations stay in ``hasil``)."""
    from dtsen.cycle.corrections import correctable, parse_value

    current = served_family(session, case.id_keluarga_dtsen)
    if current is None:
        return []
    changes: list[dict[str, Any]] = []
    for atribut in (*HOUSING, *asset_fields()):
        value = observed.get(atribut)
        if value is None or value == "":
            continue
        try:
            fld = correctable("family", atribut)
            new = parse_value(fld, _text(value) or "")
        except ValueError:
            continue
        old = current.get(atribut)
        if old is not None and not isinstance(old, bool) and isinstance(new, bool):
            old = bool(old)
        if old == new:
            continue
        changes.append(
            {
                "entitas": "family",
                "id": case.id_keluarga_dtsen,
                "atribut": atribut,
                "nilai_baru": _text(new),
                "nilai_lama": _text(old),
            }
        )
    return changes


def member_notes(observed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Members not found living with the family, and new members, as notes for the dinsos (the civil
    registry decides identity; a visit only reports what it saw)."""
    notes: list[dict[str, Any]] = []
    for member in observed.get("anggota") or []:
        status = member.get("keberadaan")
        if status and status != "ada":
            notes.append({"id_dtsen": member.get("id_dtsen"), "keberadaan": status})
    for member in observed.get("anggota_baru") or []:
        notes.append(
            {
                "keberadaan": "baru",
                "nama": member.get("nama"),
                "hubungan": member.get("hubungan"),
                "tahun_lahir": member.get("tahun_lahir"),
            }
        )
    return notes


def check_gps(lat: float, lon: float, accuracy: float | None = None) -> dict[str, Any]:
    """The visit's position with flags (never a refusal: a wrong fix must not lose a visit's data):
    ``di_luar_indonesia`` outside Indonesia's bounding box (see INDONESIA_BOX for why no finer check)."""
    flags = []
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        flags.append("koordinat_tidak_sah")
    lat_min, lat_max, lon_min, lon_max = INDONESIA_BOX
    if not (lat_min <= lat <= lat_max and lon_min <= lon <= lon_max):
        flags.append("di_luar_indonesia")
    point: dict[str, Any] = {"lat": round(lat, 6), "lon": round(lon, 6), "tanda": flags}
    if accuracy is not None:
        point["akurasi_m"] = round(accuracy, 1)
    return point
