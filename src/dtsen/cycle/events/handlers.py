"""One handler per event kind: what a birth, death, move, marriage, divorce or KK split does to the
registry, and the outcome reported for it (applied, already applied, rejected with a reason)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from dtsen.canonical import StatusPadan
from dtsen.cycle.events.overlay import EVENT_SOURCE, Registry, age
from dtsen.reference.codes import HubunganKeluarga, HubunganSIAK, JenisKelamin, Keberadaan, StatusKawin
from dtsen.tables import LOCATION, EventKind, FeedStatus, LineageKind, OutcomeReason

IdAllocator = Callable[[str, str | None], str]  # (kind "person"|"family", NIK or KK) -> a new id
Result = tuple[FeedStatus, str | None, str | None, str | None, tuple[int, int]]


def _death(reg: Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    row = reg.by_nik.get(e["nik"])
    if row is None:
        return FeedStatus.DITOLAK, OutcomeReason.NIK_TIDAK_DITEMUKAN, None, None, (0, 0)
    pid, fid = reg.p.get(row, "id_dtsen"), reg.p.get(row, "id_keluarga_dtsen")
    if not reg.living(row):
        return FeedStatus.SUDAH_DITERAPKAN, OutcomeReason.SUDAH_MENINGGAL, pid, fid, (0, 0)
    when = e["tanggal_lapor"]
    reg.set_person(row, "status_hidup", False, when)
    reg.set_person(row, "tanggal_meninggal", e["tanggal_peristiwa"], when)
    reg.set_person(row, "status_padan", int(StatusPadan.MENINGGAL), when)
    reg.set_person(row, "keberadaan", int(Keberadaan.MENINGGAL), when)
    reg.touched.add(fid)
    if fid in reg.family_row:
        reg.reassign_head(fid, when)
    return FeedStatus.DITERAPKAN, None, pid, fid, (0, 0)


def _birth(reg: Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    if e["nik"] in reg.by_nik:
        row = reg.by_nik[e["nik"]]
        return (
            FeedStatus.SUDAH_DITERAPKAN,
            OutcomeReason.NIK_SUDAH_ADA,
            reg.p.get(row, "id_dtsen"),
            reg.p.get(row, "id_keluarga_dtsen"),
            (0, 0),
        )
    mother = reg.by_nik.get(e["nik_ibu"]) if e["nik_ibu"] else None
    frow = reg.by_kk.get(e["no_kk"]) if e["no_kk"] else None
    if frow is None and mother is not None:
        frow = reg.family_row.get(reg.p.get(mother, "id_keluarga_dtsen"))
    if frow is None:
        return FeedStatus.DITOLAK, OutcomeReason.KELUARGA_TIDAK_DITEMUKAN, None, None, (0, 0)
    fid = reg.f.get(frow, "id_keluarga_dtsen")
    parent_role = reg.p.get(mother, "hubungan") if mother is not None else HubunganKeluarga.KEPALA_KELUARGA
    child = parent_role in (HubunganKeluarga.KEPALA_KELUARGA, HubunganKeluarga.ISTRI_SUAMI)
    pid = new_id("person", e["nik"])
    when, born = e["tanggal_lapor"], e["tanggal_peristiwa"]
    values: dict[str, Any] = {
        "id_dtsen": pid,
        "id_keluarga_dtsen": fid,
        "nik": e["nik"],
        "no_kk": reg.f.get(frow, "no_kk"),
        "nama": e["nama"],
        "nama_asli": e["nama"],
        "jenis_kelamin": e["jenis_kelamin"],
        "tanggal_lahir": born,
        "umur": age(born, ref),
        "status_kawin": int(StatusKawin.BELUM_KAWIN),
        "hubungan": int(HubunganKeluarga.ANAK if child else HubunganKeluarga.CUCU),
        "hubungan_siak": int(HubunganSIAK.ANAK if child else HubunganSIAK.CUCU),
        "status_hidup": True,
        "keberadaan": int(Keberadaan.ANGGOTA_BARU),
        "status_padan": int(StatusPadan.ANGGOTA_BARU),
        "di_dukcapil": True,
        "sumber_data": ["siak"],
        "bukti_status": f"{EVENT_SOURCE}:{e['id_peristiwa']}",
        "gelar": [],
        "nama_ibu_kandung": reg.p.get(mother, "nama") if mother is not None else None,
        **{c: reg.f.get(frow, c) for c in LOCATION},
    }
    if "flags" in reg.p.frame.columns:
        values["flags"] = []
    row = reg.p.add({k: v for k, v in values.items() if k in reg.p.frame.columns})
    reg.by_nik[e["nik"]] = row
    reg.members.setdefault(fid, []).append(row)
    reg.touched.add(fid)
    for column in values:
        if column in reg.p.frame.columns:
            reg.record("person", pid, column, when)
    return FeedStatus.DITERAPKAN, None, pid, fid, (1, 0)


def _move(reg: Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    when = e["tanggal_lapor"]
    if e["nik"] is None:  # the whole family moves
        frow = reg.by_kk.get(e["no_kk"])
        if frow is None:
            return FeedStatus.DITOLAK, OutcomeReason.KK_TIDAK_DITEMUKAN, None, None, (0, 0)
        fid = reg.f.get(frow, "id_keluarga_dtsen")
        if reg.f.get(frow, "kode_desa") == e["kode_desa_tujuan"] and (
            e["alamat_tujuan"] is None or reg.f.get(frow, "alamat") == e["alamat_tujuan"]
        ):
            return FeedStatus.SUDAH_DITERAPKAN, OutcomeReason.ALAMAT_SAMA, None, fid, (0, 0)
        reg.relocate(frow, e, when)
        return FeedStatus.DITERAPKAN, None, None, fid, (0, 0)
    row = reg.by_nik.get(e["nik"])
    if row is None or not reg.living(row):
        return FeedStatus.DITOLAK, OutcomeReason.NIK_TIDAK_DITEMUKAN, None, None, (0, 0)
    pid, old = reg.p.get(row, "id_dtsen"), reg.p.get(row, "id_keluarga_dtsen")
    target = reg.by_kk.get(e["no_kk_baru"])
    made = (0, 0)
    if target is not None and reg.f.get(target, "id_keluarga_dtsen") == old:
        return FeedStatus.SUDAH_DITERAPKAN, OutcomeReason.SUDAH_DI_KK_TUJUAN, pid, old, made
    if target is None:  # a new card at the destination, the mover its head
        fid = new_id("family", e["no_kk_baru"])
        target = reg.new_family(fid, e["no_kk_baru"], row, None, when)
        reg.family_lineage(old, fid, LineageKind.PISAH)
        made = (0, 1)
        reg.set_person(row, "hubungan", int(HubunganKeluarga.KEPALA_KELUARGA), when)
        reg.set_person(row, "hubungan_siak", int(HubunganSIAK.KEPALA_KELUARGA), when)
        reg.relocate(target, e, when)
    fid = reg.f.get(target, "id_keluarga_dtsen")
    reg.move_person(row, fid, when)
    if old in reg.family_row:
        reg.reassign_head(old, when, to=fid)
    return FeedStatus.DITERAPKAN, None, pid, fid, made


def _marriage(reg: Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    a, b = reg.by_nik.get(e["nik"]), reg.by_nik.get(e["nik_pasangan"])
    if a is None or b is None or not reg.living(a) or not reg.living(b):
        return FeedStatus.DITOLAK, OutcomeReason.NIK_TIDAK_DITEMUKAN, None, None, (0, 0)
    when = e["tanggal_lapor"]
    pid, fa = reg.p.get(a, "id_dtsen"), reg.p.get(a, "id_keluarga_dtsen")
    married = int(StatusKawin.KAWIN)
    already = reg.p.get(a, "status_kawin") == married and reg.p.get(b, "status_kawin") == married
    target_kk = e["no_kk_baru"]
    if already and (target_kk is None or reg.p.get(a, "no_kk") == target_kk == reg.p.get(b, "no_kk")):
        return FeedStatus.SUDAH_DITERAPKAN, OutcomeReason.SUDAH_KAWIN, pid, fa, (0, 0)
    reg.set_person(a, "status_kawin", married, when)
    reg.set_person(b, "status_kawin", married, when)
    made = (0, 0)
    if target_kk is not None and target_kk not in reg.by_kk:  # the couple gets its own card
        fid = new_id("family", target_kk)
        origin = reg.family_row.get(fa)
        frow = reg.new_family(fid, target_kk, a, origin if e["kode_desa_tujuan"] is None else None, when)
        reg.family_lineage(fa, fid, LineageKind.PISAH)
        made = (0, 1)
        if e["kode_desa_tujuan"] is not None:
            reg.relocate(frow, e, when)
        old_b = reg.p.get(b, "id_keluarga_dtsen")
        reg.move_person(a, fid, when)
        reg.move_person(b, fid, when)
        reg.set_person(a, "hubungan", int(HubunganKeluarga.KEPALA_KELUARGA), when)
        reg.set_person(a, "hubungan_siak", int(HubunganSIAK.KEPALA_KELUARGA), when)
        reg.set_person(b, "hubungan", int(HubunganKeluarga.ISTRI_SUAMI), when)
        wife = reg.p.get(b, "jenis_kelamin") == JenisKelamin.PEREMPUAN
        reg.set_person(b, "hubungan_siak", int(HubunganSIAK.ISTRI if wife else HubunganSIAK.SUAMI), when)
        for old in sorted({fa, old_b}):
            if old in reg.family_row:
                reg.reassign_head(old, when, to=fid)
        return FeedStatus.DITERAPKAN, None, pid, fid, made
    target = reg.by_kk.get(target_kk) if target_kk is not None else reg.family_row.get(fa)
    if target is None:
        return FeedStatus.DITOLAK, OutcomeReason.KK_TIDAK_DITEMUKAN, pid, fa, made
    fid = reg.f.get(target, "id_keluarga_dtsen")
    for person in (a, b):
        if reg.p.get(person, "id_keluarga_dtsen") != fid:
            old = reg.p.get(person, "id_keluarga_dtsen")
            reg.move_person(person, fid, when)
            head_here = reg.f.get(target, "id_kepala")
            spouse_of_head = any(reg.p.get(x, "id_dtsen") == head_here for x in (a, b))
            role = HubunganKeluarga.ISTRI_SUAMI if spouse_of_head else HubunganKeluarga.MENANTU
            reg.set_person(person, "hubungan", int(role), when)
            siak = (
                (
                    HubunganSIAK.ISTRI
                    if reg.p.get(person, "jenis_kelamin") == JenisKelamin.PEREMPUAN
                    else HubunganSIAK.SUAMI
                )
                if spouse_of_head
                else HubunganSIAK.MENANTU
            )
            reg.set_person(person, "hubungan_siak", int(siak), when)
            if old in reg.family_row:
                reg.reassign_head(old, when, to=fid)
    return FeedStatus.DITERAPKAN, None, pid, fid, made


def _divorce(reg: Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    """Both spouses ``Cerai hidup``. Who keeps which card is Dukcapil's next event (a KK split or a move),
    so the family is left as it is."""
    a, b = reg.by_nik.get(e["nik"]), reg.by_nik.get(e["nik_pasangan"])
    if a is None or b is None or not reg.living(a) or not reg.living(b):
        return FeedStatus.DITOLAK, OutcomeReason.NIK_TIDAK_DITEMUKAN, None, None, (0, 0)
    pid, fid = reg.p.get(a, "id_dtsen"), reg.p.get(a, "id_keluarga_dtsen")
    divorced = int(StatusKawin.CERAI_HIDUP)
    if reg.p.get(a, "status_kawin") == divorced and reg.p.get(b, "status_kawin") == divorced:
        return FeedStatus.SUDAH_DITERAPKAN, OutcomeReason.SUDAH_CERAI, pid, fid, (0, 0)
    when = e["tanggal_lapor"]
    reg.set_person(a, "status_kawin", divorced, when)
    reg.set_person(b, "status_kawin", divorced, when)
    return FeedStatus.DITERAPKAN, None, pid, fid, (0, 0)


def _split(reg: Registry, e: dict[str, Any], new_id: IdAllocator, ref: date) -> Result:
    origin = reg.by_kk.get(e["no_kk"])
    if origin is None:
        return FeedStatus.DITOLAK, OutcomeReason.KK_TIDAK_DITEMUKAN, None, None, (0, 0)
    fa = reg.f.get(origin, "id_keluarga_dtsen")
    if e["no_kk_baru"] in reg.by_kk:
        existing = reg.f.get(reg.by_kk[e["no_kk_baru"]], "id_keluarga_dtsen")
        return FeedStatus.SUDAH_DITERAPKAN, OutcomeReason.KK_BARU_SUDAH_ADA, None, existing, (0, 0)
    rows = [reg.by_nik.get(n) for n in e["nik_anggota"]]
    if not rows or any(
        r is None or not reg.living(r) or reg.p.get(r, "id_keluarga_dtsen") != fa for r in rows
    ):
        return FeedStatus.DITOLAK, OutcomeReason.ANGGOTA_BUKAN_KELUARGA_ASAL, None, fa, (0, 0)
    when = e["tanggal_lapor"]
    fid = new_id("family", e["no_kk_baru"])
    head = rows[0]
    assert head is not None
    frow = reg.new_family(fid, e["no_kk_baru"], head, origin if e["kode_desa_tujuan"] is None else None, when)
    if e["kode_desa_tujuan"] is not None:
        reg.relocate(frow, e, when)
    reg.family_lineage(fa, fid, LineageKind.PISAH)
    for i, r in enumerate(rows):
        assert r is not None
        reg.move_person(r, fid, when)
        if i == 0:
            role, siak = HubunganKeluarga.KEPALA_KELUARGA, HubunganSIAK.KEPALA_KELUARGA
        elif i == 1 and reg.p.get(r, "status_kawin") == StatusKawin.KAWIN:
            role = HubunganKeluarga.ISTRI_SUAMI
            wife = reg.p.get(r, "jenis_kelamin") == JenisKelamin.PEREMPUAN
            siak = HubunganSIAK.ISTRI if wife else HubunganSIAK.SUAMI
        else:
            role, siak = HubunganKeluarga.ANAK, HubunganSIAK.ANAK
        reg.set_person(r, "hubungan", int(role), when)
        reg.set_person(r, "hubungan_siak", int(siak), when)
    reg.reassign_head(fa, when, to=fid)
    return FeedStatus.DITERAPKAN, None, reg.p.get(head, "id_dtsen"), fid, (0, 1)


HANDLERS: dict[str, Callable[..., Result]] = {
    EventKind.MATI: _death,
    EventKind.LAHIR: _birth,
    EventKind.PINDAH: _move,
    EventKind.KAWIN: _marriage,
    EventKind.CERAI: _divorce,
    EventKind.PISAH_KK: _split,
}
