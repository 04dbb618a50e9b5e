"""Land parcels (ATR/BPN) -> ``bidang_tanah`` (mapping ``bidang_tanah.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.synth.geography import slice_codes
from dtsen.synth.sources.common import (
    SourceTables,
    dotted,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> SourceTables:
    """Land parcels (ATR/BPN): the titled house plot of owners, and other land."""
    rng = src.rng(8)
    f = src.f
    house = np.flatnonzero(f["bukti_kepemilikan"] == 1)
    land = np.flatnonzero(f["lahan_lain"])
    land_n = 1 + rng.poisson(0.4, len(land))
    fam_rows = np.concatenate([house, np.repeat(land, land_n)])
    use = np.r_[np.zeros(len(house), np.int8), np.ones(land_n.sum(), np.int8)]
    holder = src.adult_member(rng, fam_rows, 0.8)
    ident = src.admin_identity(rng, holder)
    area = (
        np.where(
            use == 0,
            f["luas_lantai"][fam_rows] * rng.uniform(1.2, 3.0, len(fam_rows)),
            np.exp(rng.normal(7.4, 1.0, len(fam_rows)) + 0.15 * (f["desil"][fam_rows] - 5)),
        )
        .round()
        .astype(np.int64)
    )
    nib = (
        pl.DataFrame(
            {
                "k": slice_codes(f["kode_desa"][fam_rows], 0, 6),
                "s": np.arange(len(fam_rows), dtype=np.int64),
            }
        )
        .select(pl.col("k") + pl.lit(f"{src.chunk:03d}") + pl.col("s").cast(pl.Utf8).str.zfill(5))
        .to_series()
        .to_numpy()
        .astype(object)
    )
    rows = pl.DataFrame(
        {
            "NIB": nib,
            "LUAS_M2": area,
            "JENIS_HAK": np.where((use == 0) | (rng.random(len(use)) < 0.9), "HM", "HGB"),
            "PENGGUNAAN": np.where(use == 0, "PERUMAHAN", "PERTANIAN"),
            "NIK_PEMEGANG": ident.nik,
            "NAMA_PEMEGANG": ident.nama,
            "KODE_DESA": dotted(f["kode_desa"][fam_rows]),
        }
    )
    truth = truth_table(
        "atr_bpn",
        nib,
        src.p["person_id"][holder],
        f["family_id"][fam_rows],
        nik_dirt=ident.nik_kind,
        name_dirt=ident.name_kind,
    )
    return SourceTables(rows, truth)
