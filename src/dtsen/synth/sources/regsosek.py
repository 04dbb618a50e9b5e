"""Regsosek 2022 -> ``regsosek_keluarga`` and ``regsosek_anggota`` (mappings of the same names).

The Blok III/V family items and Blok IV member items are shared with Susenas, which asks the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth.dirt import identifier_dirt, kk_rates
from dtsen.synth.geography import slice_codes
from dtsen.synth.sources.common import (
    SourceTables,
    fmt_dates,
    make_ids,
    member_keys,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> tuple[SourceTables, SourceTables]:
    """Regsosek 2022: near-full coverage, full questionnaire, the family as it was in late 2022."""
    rng = src.rng(2)
    p, f = src.p, src.f
    idx = np.flatnonzero(p["in_regsosek"])
    unit = p["regsosek_unit"][idx]
    order = np.lexsort((p["hubungan_2022"][idx], unit))
    idx, unit = idx[order], unit[order]
    units, first, inverse = np.unique(unit, return_index=True, return_inverse=True)
    # the family whose dwelling and card the unit used in 2022: split units live with their parents
    unit_family = np.where(units >= 0, units, -units - 1)
    unit_fam_row = np.searchsorted(f["family_id"], unit_family)
    nu = len(units)
    unit_ids = make_ids("RS22", src.chunk, nu, 7)
    counts = np.bincount(inverse, minlength=nu)
    kode_kk = np.zeros(nu, dtype=np.int8)
    np.maximum.at(kode_kk, inverse, p["status_kk_2022"][idx])
    keluarga = _keluarga(src, rng, unit_ids, unit_family, unit_fam_row, kode_kk, counts)
    seq = np.arange(len(idx)) - first[inverse] + 1
    return keluarga, _anggota(src, rng, idx, unit_ids[inverse], seq)


def _keluarga(
    src: ChunkSources,
    rng: np.random.Generator,
    unit_ids: np.ndarray,
    unit_family: np.ndarray,
    unit_fam_row: np.ndarray,
    kode_kk: np.ndarray,
    counts: np.ndarray,
) -> SourceTables:
    """One row per 2022 unit: its place, card, KODE_KK, size and the Blok III/V items of its dwelling."""
    f = src.f
    nu = len(unit_ids)
    desa = f["kode_desa_2022"][unit_fam_row]
    block = family_block(src, unit_fam_row)
    kk_out, kk_kind = identifier_dirt(rng, f["no_kk_2022"][unit_fam_row], kk_rates(src.params.regsosek))
    keluarga = pl.DataFrame(
        {
            "ID_KELUARGA": unit_ids,
            "KODE_PROV": slice_codes(desa, 0, 2),
            "KODE_KAB": slice_codes(desa, 2, 2),
            "KODE_KEC": slice_codes(desa, 4, 2),
            "KODE_DESA": slice_codes(desa, 6, 4),
            "ALAMAT": f["alamat_2022"][unit_fam_row],
            "RT": f["rt_2022"][unit_fam_row],
            "RW": f["rw_2022"][unit_fam_row],
            "NO_KK": kk_out,
            "KODE_KK": kode_kk,
            "JML_ART": counts.astype(np.int16),
            **block,
        }
    )
    k_truth = truth_table(
        "regsosek", unit_ids, np.full(nu, -1, np.int64), unit_family, kode_kk=kode_kk, kk_dirt=kk_kind
    )
    return SourceTables(keluarga, k_truth)


def _anggota(
    src: ChunkSources, rng: np.random.Generator, idx: np.ndarray, unit_id: np.ndarray, seq: np.ndarray
) -> SourceTables:
    """One row per member listed in a unit, numbered in it (NO_ART), with the Blok IV items."""
    p = src.p
    dirt = src.identity(rng, idx, src.params.regsosek)
    age_2022 = np.floor(p["age_2022"][idx]).astype(np.int16)
    new_member = (p["age_2022"][idx] < 1.0).astype(bool)
    anggota = pl.DataFrame(
        {
            "ID_KELUARGA": unit_id,
            "NO_ART": seq.astype(np.int16),
            "NAMA": dirt.nama,
            "NIK": dirt.nik,
            "R402_KEBERADAAN": np.where(new_member, 5, 1).astype(np.int8),
            "R403_HUBUNGAN": p["hubungan_2022"][idx],
            "R404_JENIS_KELAMIN": p["jenis_kelamin"][idx],
            "R404_TGL_LAHIR": fmt_dates(dirt.tanggal, "%Y-%m-%d"),
            "R404_UMUR": age_2022,
            "R406_STATUS_KAWIN": p["status_kawin"][idx],
            **member_block(src, idx),
        }
    )
    record = member_keys(unit_id, seq)
    a_truth = truth_table(
        "regsosek",
        record,
        p["person_id"][idx],
        p["family_id"][idx],
        nik_dirt=dirt.nik_kind,
        name_dirt=dirt.name_kind,
        date_dirt=dirt.date_kind,
        alive=p["alive"][idx],
    )
    return SourceTables(anggota, a_truth)


def family_block(src: ChunkSources, fam_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Housing (Blok III) and assets (Blok V) of the given family rows, with Regsosek item names."""
    f = src.f
    out: dict[str, np.ndarray] = {
        "R301A": f["status_bangunan"][fam_rows],
        "R301B": f["bukti_kepemilikan"][fam_rows],
        "R302": f["luas_lantai"][fam_rows],
        "R303": f["lantai"][fam_rows],
        "R304": f["dinding"][fam_rows],
        "R305": f["atap"][fam_rows],
        "R306A": f["sumber_air_minum"][fam_rows],
        "R307A": f["sumber_penerangan"][fam_rows],
        "R307B": f["daya_listrik"][fam_rows],
        "R308": f["bahan_bakar_masak"][fam_rows],
        "R309A": f["fasilitas_bab"][fam_rows],
        "R309B": f["jenis_kloset"][fam_rows],
        "R310": f["pembuangan_tinja"][fam_rows],
    }
    for aset in rc.Aset:
        out[f"R502{aset.letter.upper()}"] = np.where(f[aset.field][fam_rows], 1, 2).astype(np.int8)
    out["R503A"] = np.where(f["lahan_lain"][fam_rows], 1, 2).astype(np.int8)
    out["R503B"] = np.where(f["rumah_lain"][fam_rows], 1, 2).astype(np.int8)
    for i, animal in enumerate(rc.Ternak):
        out[f"R504{'ABCDE'[i]}"] = f[animal.field][fam_rows]
    out["R505"] = np.where(f["internet"][fam_rows], 1, 2).astype(np.int8)
    out["R506"] = np.where(f["rekening_bank"][fam_rows], 1, 2).astype(np.int8)
    for i, prog in enumerate(rc.ProgramBansos):
        out[f"R501{'ABCDEFG'[i]}"] = np.where(f[prog.field][fam_rows], 1, 2).astype(np.int8)
    return out


def member_block(src: ChunkSources, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Blok IV items of the given persons (education, work, disability, health), Regsosek item names."""
    p = src.p
    out = {
        "R405_HAMIL": np.where(p["jenis_kelamin"][idx] == 2, np.where(p["hamil"][idx], 1, 2), 0).astype(
            np.int8
        ),
        "R407_PARTISIPASI_SEKOLAH": p["partisipasi_sekolah"][idx],
        "R408_JENJANG": p["jenjang_pendidikan"][idx],
        "R409_KELAS": p["kelas_tertinggi"][idx],
        "R410_IJAZAH": p["ijazah_tertinggi"][idx],
        "R411_BEKERJA": np.where(p["bekerja"][idx], 1, 2).astype(np.int8),
        "R412_JAM_KERJA": p["jam_kerja"][idx],
        "R413_LAPANGAN_USAHA": p["lapangan_usaha"][idx],
        "R414_STATUS_PEKERJAAN": p["status_pekerjaan"][idx],
        "R415_NPWP": np.where(p["punya_npwp"][idx], 1, 2).astype(np.int8),
        "R416_PUNYA_USAHA": np.where(p["punya_usaha"][idx], 1, 2).astype(np.int8),
        "R417_PEKERJA_DIBAYAR": p["usaha_pekerja_dibayar"][idx],
        "R418_PEKERJA_TIDAK_DIBAYAR": p["usaha_pekerja_tidak_dibayar"][idx],
        "R419_OMZET": p["omzet_usaha"][idx],
    }
    for i, dom in enumerate(rc.FungsiTubuh):
        out[f"R420{'ABCDEFGHI'[i]}"] = p[dom.field][idx]
    out["R421_PENYAKIT_KRONIS"] = p["penyakit_kronis"][idx]
    out["R422_JAMKES"] = p["jaminan_kesehatan"][idx]
    return out
