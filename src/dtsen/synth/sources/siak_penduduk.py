"""SIAK (Dukcapil population register) -> ``siak_penduduk`` (mapping ``siak_penduduk.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth.geography import hash_uniform, slice_int
from dtsen.synth.sources.common import (
    SourceTables,
    fmt_dates,
    labels,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> SourceTables:
    """The population register: everyone living, the dead it knows of flagged; clean but not perfect."""
    rng = src.rng(1)
    p, f, fi = src.p, src.f, src.fam_index
    death_known = ~p["alive"] & (hash_uniform(p["person_id"], src.seed + 5) < src.params.siak_death_reported)
    keep = np.ones(len(p["person_id"]), dtype=bool)
    idx = np.flatnonzero(keep)
    dirt = src.identity(rng, idx, src.params.siak)
    moved_here = f["move_reported"] | ~f["moved"]
    desa = np.where(moved_here, f["kode_desa"], f["kode_desa_2022"])[fi[idx]]
    alamat = np.where(moved_here, f["alamat"], f["alamat_2022"])[fi[idx]]
    rows = pl.DataFrame(
        {
            "NIK": dirt.nik,
            "NO_KK": f["no_kk"][fi[idx]],
            "NAMA_LGKP": dirt.nama,
            "TMPT_LHR": p["tempat_lahir"][idx],
            "TGL_LHR": fmt_dates(dirt.tanggal, "%d-%m-%Y"),
            "JENIS_KLMIN": labels(rc.JenisKelamin, p["jenis_kelamin"][idx]),
            "AGAMA": labels(rc.Agama, p["agama"][idx]),
            "STATUS_KAWIN": labels(rc.StatusKawin, p["status_kawin"][idx]),
            "STAT_HBKEL": labels(rc.HubunganSIAK, p["hubungan_siak"][idx]),
            "PDDK_AKH": labels(rc.PendidikanSIAK, p["pendidikan_siak"][idx]),
            "JENIS_PKRJN": labels(rc.PekerjaanSIAK, p["pekerjaan_siak"][idx]),
            "ALAMAT": alamat,
            "NO_RT": np.where(moved_here, f["rt"], f["rt_2022"])[fi[idx]],
            "NO_RW": np.where(moved_here, f["rw"], f["rw_2022"])[fi[idx]],
            "NO_PROP": slice_int(desa, 0, 2),
            "NO_KAB": slice_int(desa, 2, 2),
            "NO_KEC": slice_int(desa, 4, 2),
            "NO_KEL": slice_int(desa, 6, 4),
            "STAT_HIDUP": np.where(death_known[idx], "MATI", "HIDUP"),
            "TGL_MATI": np.where(death_known[idx], fmt_dates(p["tanggal_meninggal"][idx], "%d-%m-%Y"), ""),
        }
    )
    truth = truth_table(
        "siak",
        dirt.nik.copy(),
        p["person_id"][idx],
        p["family_id"][idx],
        nik_dirt=dirt.nik_kind,
        name_dirt=dirt.name_kind,
        date_dirt=dirt.date_kind,
        alive=p["alive"][idx],
        death_recorded=death_known[idx],
    )
    return SourceTables(rows, truth.with_columns(pl.col("record_id").cast(pl.Utf8)))
