"""The public Cek Status (:func:`citizen_status`): the one public, unscoped read of the served registry.

It answers only when the name given matches the person's (both normalised the same way,
:func:`dtsen.store.person_names.normalize_name`), with a masked name and no identifiers; every answer and
every miss by NIK is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import PUBLIC
from dtsen.store import audit, person_names
from dtsen.store.registry import DIGITS16, ELIGIBILITY, FAMILY, PERSON, SNAPSHOT


@dataclass(frozen=True)
class ProgramAmount:
    program: str
    nama: str
    layak: bool
    nilai_tahunan: int | None
    nilai_triwulan: int | None  # a quarter of the yearly amount


@dataclass(frozen=True)
class CitizenStatus:
    """What the public Cek Status may show about the person who asked: no identifiers, a masked name."""

    nama_tersamar: str
    status_peringkat: str | None  # diperingkat | tidak_diperingkat
    alasan_tidak_diperingkat: str | None
    desil: int | None  # national desil
    desil_provinsi: int | None
    desil_kabkota: int | None
    p_desil_le4: float | None
    p_desil_le5: float | None
    borderline: bool
    kepastian: str | None  # how sure the rank is, in words (from the interval's probabilities)
    programs: tuple[ProgramAmount, ...]  # this quarter's decisions with amounts
    alasan: tuple[str, ...]  # the top explanation sentences
    snapshot_ref: str
    periode: str
    kode_desa: str | None


# -- the public citizen check ------------------------------------------------------------------------------
def certainty_words(
    desil: int | None, p_le4: float | None, p_le5: float | None, borderline: bool
) -> str | None:
    """How sure the rank is, in plain Bahasa, from the interval: the probability that the family's true
    welfare lies on the same side of the desil-4 cut-off (desil-5 for a family in desil 5)."""
    if desil is None:
        return None
    p = p_le5 if desil == 5 else p_le4
    if p is None:
        return "Tingkat keyakinan peringkat ini belum dapat dihitung."
    same_side = p if desil <= 5 else 1 - (p_le5 if p_le5 is not None else p)
    if same_side >= 0.9 and not borderline:
        return "Sangat yakin: kecil kemungkinan keluarga Anda sebenarnya di sisi lain batas desil."
    if same_side >= 0.7:
        return "Cukup yakin, tetapi data yang berubah bisa menggeser desil keluarga Anda."
    return "Kurang pasti: keluarga Anda dekat batas desil; bila menurut Anda keliru, ajukan sanggahan."


_STATUS_FAMILY_COLUMNS = (
    "penjelasan",
    "status_peringkat",
    "alasan_tidak_diperingkat",
    "desil_nasional",
    "desil_provinsi",
    "desil_kabkota",
    "p_desil_le4",
    "p_desil_le5",
    "borderline",
)


def citizen_status(
    session: Session, nik: str | None, nama: str, kode_desa: str | None, *, purpose: str = "cek_status"
) -> CitizenStatus | None:
    """The public Cek Status: by NIK + full name, or by village + full name (as the public Cek Bansos).

    Answers only when the normalised name equals the person's; None for an unknown NIK, a wrong name,
    a person outside the current snapshot, or a village name shared by several people. Unscoped (the
    public has no region) but audited: a ``read`` by ``public:publik`` when answered, a ``read_denied``
    for every miss by NIK (the person can then see that someone tried; recorded for unknown NIKs too, so
    an unknown NIK and a wrong name do the same work and cannot be told apart by timing).

    One statement reads the current snapshot, the candidates, their family and its programs (a citizen
    check is the busiest request the registry serves, and each round trip costs it CPU on both sides).
    """
    wanted = person_names.normalize_name(nama)
    if not wanted:
        return None
    if nik:
        if not DIGITS16.match(nik):
            return None
        person_on = PERSON.c.nik == nik
    elif kode_desa and re.fullmatch(r"\d{10}", kode_desa):
        person_on = and_(PERSON.c.kode_desa == kode_desa, PERSON.c.nama_norm == wanted)
    else:
        return None
    current = SNAPSHOT.c.id
    joined = (
        SNAPSHOT.outerjoin(PERSON, and_(PERSON.c.snapshot_id == current, person_on))
        .outerjoin(
            FAMILY,
            and_(FAMILY.c.snapshot_id == current, FAMILY.c.id_keluarga_dtsen == PERSON.c.id_keluarga_dtsen),
        )
        .outerjoin(
            ELIGIBILITY,
            and_(
                ELIGIBILITY.c.snapshot_id == current,
                ELIGIBILITY.c.id_keluarga_dtsen == PERSON.c.id_keluarga_dtsen,
                ELIGIBILITY.c.layak.is_(True),
            ),
        )
    )
    rows = session.execute(
        select(
            SNAPSHOT.c.ref,
            SNAPSHOT.c.periode,
            SNAPSHOT.c.programs,
            PERSON.c.id_dtsen,
            PERSON.c.nama,
            PERSON.c.nama_norm,
            PERSON.c.nik,
            PERSON.c.kode_desa,
            FAMILY.c.id_keluarga_dtsen.label("keluarga"),
            *(FAMILY.c[name] for name in _STATUS_FAMILY_COLUMNS),
            ELIGIBILITY.c.program,
            ELIGIBILITY.c.nilai_tahunan,
        )
        .select_from(joined)
        .where(SNAPSHOT.c.is_current)
        .order_by(PERSON.c.id_dtsen, ELIGIBILITY.c.program)
        .limit(200)
    ).all()
    if not rows:
        return None  # nothing served yet
    snapshot = rows[0]
    programs_of: dict[str, list[Any]] = {}
    for row in rows:
        if row.id_dtsen is not None:
            programs_of.setdefault(row.id_dtsen, []).append(row)
    candidates = [group[0] for group in programs_of.values()]
    matches = [c for c in candidates if (c.nama_norm or person_names.normalize_name(c.nama)) == wanted]
    if len(matches) != 1:
        if nik:  # every miss by NIK, known or not: a wrong name must cost what an unknown NIK costs
            audit.record(
                session,
                **PUBLIC.audit_fields(),
                action="read_denied",
                resource="cek_status",
                nik=nik,
                region_kode=candidates[0].kode_desa if candidates else None,
                purpose=purpose,
                detail={"snapshot": snapshot.ref},
            )
        return None
    person = family = matches[0]
    if family.keluarga is None:
        return None
    names = snapshot.programs or {}
    programs = tuple(
        ProgramAmount(
            d.program,
            names.get(d.program, d.program),
            True,
            d.nilai_tahunan,
            None if d.nilai_tahunan is None else d.nilai_tahunan // 4,
        )
        for d in programs_of[person.id_dtsen]
        if d.program is not None
    )
    explanation = family.penjelasan or []
    reasons = tuple(str(item.get("kalimat")) for item in explanation[:3] if item.get("kalimat"))
    ranked = family.status_peringkat != "tidak_diperingkat" and family.desil_nasional is not None
    audit.record(
        session,
        **PUBLIC.audit_fields(),
        action="read",
        resource="cek_status",
        nik=person.nik,
        region_kode=person.kode_desa,
        purpose=purpose,
        detail={"snapshot": snapshot.ref, "cara": "nik" if nik else "wilayah"},
    )
    return CitizenStatus(
        nama_tersamar=person_names.mask_name(person.nama),
        status_peringkat=family.status_peringkat or ("diperingkat" if ranked else None),
        alasan_tidak_diperingkat=family.alasan_tidak_diperingkat,
        desil=family.desil_nasional if ranked else None,
        desil_provinsi=family.desil_provinsi if ranked else None,
        desil_kabkota=family.desil_kabkota if ranked else None,
        p_desil_le4=family.p_desil_le4,
        p_desil_le5=family.p_desil_le5,
        borderline=bool(family.borderline),
        kepastian=certainty_words(
            family.desil_nasional if ranked else None,
            family.p_desil_le4,
            family.p_desil_le5,
            bool(family.borderline),
        ),
        programs=programs,
        alasan=reasons,
        snapshot_ref=snapshot.ref,
        periode=snapshot.periode,
        kode_desa=person.kode_desa,
    )
