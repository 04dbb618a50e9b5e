"""Siapa yang membaca data saya (who read my data): the identity proof a citizen gives (NIK, name, birth
date and KK number must all match the registry, or the answer is the same as for an unknown person) and the
audit trail of reads of their data, in words, at the local time of their region.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.auth.permissions import ROLE_LABELS
from dtsen.store.models import AuditLog, Region
from dtsen.web.i18n import N_
from dtsen.workflows.intake import local_time


@dataclass(frozen=True)
class IdentityClaim:
    nik: str
    nama: str
    tanggal_lahir: date
    no_kk: str


def proven_identity(session: Session, claim: IdentityClaim) -> str | None:
    """The desa code of the current snapshot's person with this NIK, name, birth date and KK number, or
    ``None`` when no one matches all four.

    All four must match; the same query runs whatever is wrong, and nothing says which part was. Names
    are compared as the registry stores them (:func:`dtsen.store.person_names.normalize_name`).
    """
    from dtsen.store import registry
    from dtsen.store.person_names import normalize_name
    from dtsen.store.served import ServedPerson

    snapshot = registry.current_snapshot(session)
    rows = session.execute(
        select(
            ServedPerson.nama,
            ServedPerson.nama_norm,
            ServedPerson.tanggal_lahir,
            ServedPerson.no_kk,
            ServedPerson.kode_desa,
        ).where(
            ServedPerson.snapshot_id == (snapshot.id if snapshot is not None else -1),
            ServedPerson.nik == claim.nik,
        )
    ).all()
    wanted = normalize_name(claim.nama)
    matched: str | None = None
    for row in rows:
        same = (
            bool(wanted)
            and (row.nama_norm or normalize_name(row.nama)) == wanted
            and row.tanggal_lahir == claim.tanggal_lahir
            and (row.no_kk or "") == claim.no_kk
        )
        if same:
            matched = row.kode_desa or ""
    return matched


ACTION_LABELS = {
    "read": N_("melihat data"),
    "read_denied": N_(
        "mencoba melihat data, ditolak (nama tidak cocok atau di luar wilayah petugas; tidak ada data yang "
        "ditampilkan)"
    ),
    "search": N_("mencari data"),
    "export": N_("mengekspor data"),
    "update": N_("mengubah data"),
    "create": N_("mencatat permintaan"),
    "delete": N_("menghapus data"),
    "load": N_("memuat data"),
}

PURPOSE_LABELS = {
    "cek_status": N_("Cek Status di laman publik"),
    "halaman_keluarga": N_("membuka halaman data keluarga"),
    "pencarian_staf": N_("pencarian data oleh petugas"),
    "data_saya": N_("permintaan riwayat akses (laman Siapa yang membaca data saya)"),
    "usulan": N_("usulan keluarga"),
    "sanggahan": N_("sanggahan"),
    "verval": N_("verifikasi dan validasi"),
    "penyaluran": N_("penyaluran bantuan"),
}


@dataclass(frozen=True)
class TrailEntry:
    """One line of a person's processing trail, as the citizen is shown it."""

    at: datetime  # in the local time zone of ``zone``
    zone: str
    who: str
    where: str | None
    what: str
    purpose: str | None


def _region_names(session: Session, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.execute(select(Region.kode, Region.nama, Region.level).where(Region.kode.in_(codes)))
    prefix = {"provinsi": "Provinsi", "kabupaten": "", "kecamatan": "Kecamatan", "desa": "Desa/Kel."}
    return {row.kode: f"{prefix.get(row.level, '')} {row.nama}".strip() for row in rows}


def describe_actor(actor: str, role: str | None) -> str:
    """Who acted, as an institution and role: staff usernames are not shown (see docs/serving.md)."""
    kind = actor.split(":", 1)[0]
    if kind == "public":
        return N_("Laman publik (Anda, atau orang yang mengetahui NIK dan nama lengkap Anda)")
    if kind == "client":
        name = actor.split(":", 1)[1] if ":" in actor else actor
        return f"Sistem instansi: {name}"
    if role:
        return ROLE_LABELS.get(role, role)
    return N_("Petugas") if kind == "user" else N_("Sistem DTSEN")


def trail_entries(session: Session, entries: list[AuditLog], home: str | None = None) -> list[TrailEntry]:
    """The trail as the citizen reads it, times in the zone of ``home`` (the person's desa)."""
    names = _region_names(session, {entry.region_kode for entry in entries if entry.region_kode})
    result = []
    for entry in entries:
        at, zone = local_time(entry.occurred_at, home or entry.region_kode)
        result.append(
            TrailEntry(
                at=at,
                zone=zone,
                who=describe_actor(entry.actor, entry.actor_role),
                where=names.get(entry.region_kode or "", entry.region_kode),
                what=ACTION_LABELS.get(entry.action, entry.action),
                purpose=PURPOSE_LABELS.get(entry.purpose or "", entry.purpose),
            )
        )
    return result
