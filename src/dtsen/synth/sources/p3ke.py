"""P3KE (BKKBN family data, 2022) -> ``p3ke`` (mapping ``p3ke.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth.dirt import NikDirt, identifier_dirt, kk_rates
from dtsen.synth.geography import slice_codes
from dtsen.synth.sources.common import (
    SourceTables,
    fmt_dates,
    labels,
    make_ids,
    region_codes,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> SourceTables:
    """P3KE: families in desil 1-4 of an old district PMT, as BKKBN knew them in 2022."""
    rng = src.rng(4)
    p, f = src.p, src.f
    prm = src.params
    noisy = f["log_consumption"] + prm.p3ke_pmt_noise_sd * rng.standard_normal(len(f["family_id"]))
    kab = slice_codes(f["kode_desa"], 0, 4)
    old_desil = np.zeros(len(noisy), dtype=np.int8)
    for k in np.unique(kab):
        m = np.flatnonzero(kab == k)
        order = np.argsort(noisy[m], kind="stable")
        cum = np.cumsum(f["size"][m][order]) / f["size"][m].sum()
        old_desil[m[order]] = np.minimum(10, 1 + np.floor(cum * 10 - 1e-9)).astype(np.int8)
    fam_in = old_desil <= 4
    existed = p["tanggal_lahir"] <= np.datetime64(prm.p3ke_date)
    # BKKBN keeps the KK family: members of a split unit stay with their card
    home = np.where(p["regsosek_unit"] >= 0, p["regsosek_unit"], -p["regsosek_unit"] - 1)
    home_row = np.searchsorted(f["family_id"], home)
    idx = np.flatnonzero(fam_in[home_row] & existed)
    hr = home_row[idx]
    dirt = src.identity(rng, idx, prm.p3ke)
    kk_out, kk_kind = identifier_dirt(rng, f["no_kk_2022"][hr], kk_rates(prm.p3ke))
    fam_seq = np.unique(hr, return_inverse=True)[1]
    fam_ids = make_ids("P3KE", src.chunk, int(fam_seq.max()) + 1 if len(fam_seq) else 0, 8)
    desa = f["kode_desa_2022"][hr]
    rows = pl.DataFrame(
        {
            "ID_KELUARGA_P3KE": fam_ids[fam_seq] if len(fam_seq) else np.array([], dtype=object),
            "ID_INDIVIDU": make_ids("I", src.chunk, len(idx), 9),
            "KODE_WILAYAH": region_codes(rng, desa, prm.p3ke.region_dotted),
            "NIK": dirt.nik,
            "NO_KK": kk_out,
            "NAMA": dirt.nama,
            "TANGGAL_LAHIR": fmt_dates(dirt.tanggal, "%d/%m/%Y"),
            "JENIS_KELAMIN": labels(rc.JenisKelamin, p["jenis_kelamin"][idx], upper=False),
            "HUBUNGAN_KELUARGA": labels(rc.HubunganKeluarga, p["hubungan_2022"][idx], upper=False),
            "DESIL_KESEJAHTERAAN": old_desil[hr],
            "PADAN_DUKCAPIL": np.where(dirt.nik_kind == NikDirt.CLEAN, "Ya", "Tidak"),
        }
    )
    truth = truth_table(
        "p3ke",
        rows["ID_INDIVIDU"].to_numpy().astype(object),
        p["person_id"][idx],
        p["family_id"][idx],
        nik_dirt=dirt.nik_kind,
        kk_dirt=kk_kind,
        name_dirt=dirt.name_kind,
        date_dirt=dirt.date_kind,
        alive=p["alive"][idx],
    )
    return SourceTables(rows, truth)
