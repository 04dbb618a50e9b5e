"""DTKS (Kemensos) -> ``dtks`` (mapping ``dtks.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth.dirt import identifier_dirt, kk_rates
from dtsen.synth.geography import hash_uniform
from dtsen.synth.sources.common import (
    SourceTables,
    labels,
    make_ids,
    mixed_dates,
    region_codes,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> SourceTables:
    """DTKS: the bottom ~40% plus leakage, as of its last verification, with the audited dirt."""
    rng = src.rng(3)
    p, f, fi = src.p, src.f, src.fam_index
    prm = src.params
    incl = np.asarray(prm.dtks_inclusion_by_decile)[f["desil"] - 1]
    fam_in = hash_uniform(f["family_id"], src.seed + 31) < incl
    existed = p["tanggal_lahir"] <= np.datetime64(prm.dtks_date)
    dead = ~p["alive"]
    living_rows = fam_in[fi] & existed & ~dead
    dead_cand = fam_in[fi] & dead
    n_dead_target = round(prm.dtks_dead_active * living_rows.sum() / max(1 - prm.dtks_dead_active, 1e-9))
    keep_dead = dead_cand & (rng.random(len(dead)) < min(1.0, n_dead_target / max(dead_cand.sum(), 1)))
    idx = np.flatnonzero(living_rows | keep_dead)
    # duplicates: a second registration of the same person (new IDDTKS, slightly different entry)
    n_dup = round(prm.dtks.duplicate_row * len(idx))
    dup_src = np.sort(rng.choice(len(idx), size=n_dup, replace=False)) if n_dup else np.array([], np.int64)
    all_idx = np.concatenate([idx, idx[dup_src]])
    is_dup = np.r_[np.zeros(len(idx), bool), np.ones(n_dup, bool)]
    ganda_pool = src.siak_nik[idx]
    dirt = src.identity(rng, all_idx, prm.dtks, ganda_pool)
    ids = make_ids("", src.chunk, len(all_idx), 9)
    fam_seq = np.unique(p["family_id"][all_idx], return_inverse=True)[1]
    moved_after = f["moved"] & (f["move_date"] > np.datetime64(prm.dtks_date))
    desa = np.where(moved_after, f["kode_desa_2022"], f["kode_desa"])[fi[all_idx]]
    no_kk = np.where(moved_after, f["no_kk_2022"], f["no_kk_now"])[fi[all_idx]]
    kk_out, kk_kind = identifier_dirt(rng, no_kk, kk_rates(prm.dtks))
    rows = pl.DataFrame(
        {
            "IDDTKS": pl.Series(ids).str.replace("^", "DT"),
            "ID_KELUARGA": make_ids("K", src.chunk, fam_seq.max() + 1 if len(fam_seq) else 0, 8)[fam_seq]
            if len(fam_seq)
            else np.array([], dtype=object),
            "NIK": dirt.nik,
            "NOKK": kk_out,
            "NAMA": dirt.nama,
            "TGL_LAHIR": mixed_dates(
                rng, dirt.tanggal, [("%d/%m/%Y", 0.6), ("%Y-%m-%d", 0.25), ("%d-%m-%Y", 0.15)]
            ),
            "JNS_KEL": np.where(p["jenis_kelamin"][all_idx] == 1, "L", "P"),
            "HUB_KEL": labels(rc.HubunganKeluarga, p["hubungan"][all_idx]),
            "PEKERJAAN": labels(rc.PekerjaanSIAK, p["pekerjaan_siak"][all_idx]),
            "ALAMAT": np.where(moved_after, f["alamat_2022"], f["alamat"])[fi[all_idx]],
            "KODE_WILAYAH": region_codes(rng, desa, prm.dtks.region_dotted),
            "STATUS_DTKS": np.full(len(all_idx), "AKTIF", dtype=object),
        }
    )
    order = np.argsort(
        np.r_[np.arange(len(idx)), dup_src + 0.5], kind="stable"
    )  # duplicates next to originals
    rows = rows[order]
    truth = truth_table(
        "dtks",
        rows["IDDTKS"].to_numpy().astype(object),
        p["person_id"][all_idx][order],
        p["family_id"][all_idx][order],
        nik_dirt=dirt.nik_kind[order],
        kk_dirt=kk_kind[order],
        name_dirt=dirt.name_kind[order],
        date_dirt=dirt.date_kind[order],
        duplicate=is_dup[order],
        alive=p["alive"][all_idx][order],
    )
    return SourceTables(rows, truth)
