"""A Susenas-like survey -> ``susenas_rumah_tangga`` and ``susenas_anggota`` (mappings of the same names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.synth.geography import hash_uniform, slice_codes
from dtsen.synth.sources.common import (
    SourceTables,
    make_ids,
    member_keys,
    truth_table,
)
from dtsen.synth.sources.regsosek import family_block, member_block

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> tuple[SourceTables, SourceTables]:
    """A Susenas-like sample: households with measured consumption and survey weights."""
    rng = src.rng(9)
    f, p = src.f, src.p
    prm = src.params
    nf = len(f["family_id"])
    stratum = pl.DataFrame({"k": slice_codes(f["kode_desa"], 0, 4), "u": f["urban"]})
    picked = hash_uniform(f["family_id"], src.seed + 77) < prm.susenas_sample_rate
    fam_rows = np.flatnonzero(picked)
    strata = (
        stratum.with_columns(pl.Series("picked", picked))
        .group_by("k", "u")
        .agg(pl.len().alias("N"), pl.col("picked").sum().alias("n"))
    )
    w = stratum[fam_rows].join(strata, on=["k", "u"], how="left", maintain_order="left")
    weight = (w["N"] / w["n"]).to_numpy()
    measured = f["pc_consumption"][fam_rows] * np.exp(
        rng.normal(0, prm.consumption_measurement_sd, len(fam_rows))
    )
    ids = make_ids("SSN", src.chunk, len(fam_rows), 7)
    living_size = np.bincount(src.fam_index[p["alive"]], minlength=nf)[fam_rows]
    desa = f["kode_desa"][fam_rows]
    block = family_block(src, fam_rows)
    block.pop("R501A", None)
    rt = pl.DataFrame(
        {
            "ID_RUTA": ids,
            "KODE_PROV": slice_codes(desa, 0, 2),
            "KODE_KAB": slice_codes(desa, 2, 2),
            "KLASIFIKASI": np.where(f["urban"][fam_rows], 1, 2).astype(np.int8),
            "FWT": np.round(weight, 4),
            "JML_ART": living_size.astype(np.int16),
            "KAPITA": np.round(measured).astype(np.int64),
            **{k: v for k, v in block.items() if not k.startswith("R501")},
        }
    )
    rt_truth = truth_table(
        "susenas",
        ids,
        np.full(len(fam_rows), -1, np.int64),
        f["family_id"][fam_rows],
        true_pc_consumption=f["pc_consumption"][fam_rows],
    )
    sel = np.zeros(nf, bool)
    sel[fam_rows] = True
    idx = np.flatnonzero(sel[src.fam_index] & p["alive"])
    row_of = np.full(nf, -1, np.int64)
    row_of[fam_rows] = np.arange(len(fam_rows))
    hh = row_of[src.fam_index[idx]]
    seq = np.arange(len(idx)) - np.searchsorted(hh, hh, side="left") + 1
    art = pl.DataFrame(
        {
            "ID_RUTA": ids[hh],
            "ART_NO": seq.astype(np.int16),
            "HUB_KRT": p["hubungan"][idx],
            "JENIS_KELAMIN": p["jenis_kelamin"][idx],
            "UMUR": p["umur"][idx].astype(np.int16),
            "STATUS_KAWIN": p["status_kawin"][idx],
            **member_block(src, idx),
        }
    )
    art_ids = member_keys(ids[hh], seq)
    art_truth = truth_table("susenas", art_ids, p["person_id"][idx], p["family_id"][idx])
    return SourceTables(rt, rt_truth), SourceTables(art, art_truth)
