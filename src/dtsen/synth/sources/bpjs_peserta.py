"""BPJS Kesehatan members -> ``bpjs_peserta`` (mapping ``bpjs_peserta.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth.sources.common import (
    SourceTables,
    fmt_dates,
    labels,
    make_ids,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> SourceTables:
    """BPJS Kesehatan members with their JKN segment; many of the dead are still active."""
    rng = src.rng(6)
    p = src.p
    idx = np.flatnonzero((p["segmen_bpjs"] > 0) & (p["alive"] | (rng.random(len(p["alive"])) < 0.85)))
    ident = src.admin_identity(rng, idx)
    noka = make_ids("000", src.chunk, len(idx), 7)
    status = np.where(p["alive"][idx] | (rng.random(len(idx)) < 0.6), "AKTIF", "NONAKTIF")
    rows = pl.DataFrame(
        {
            "NOKA": noka,
            "NIK": ident.nik,
            "NAMA": ident.nama,
            "TGL_LAHIR": fmt_dates(ident.tanggal, "%Y-%m-%d"),
            "JENIS_KELAMIN": np.where(p["jenis_kelamin"][idx] == 1, "L", "P"),
            "SEGMEN": labels(rc.SegmenBPJS, p["segmen_bpjs"][idx]),
            "STATUS_PESERTA": status,
            "KODE_WILAYAH": src.f["kode_desa"][src.fam_index[idx]],
        }
    )
    truth = truth_table(
        "bpjs_kesehatan",
        noka,
        p["person_id"][idx],
        p["family_id"][idx],
        nik_dirt=ident.nik_kind,
        name_dirt=ident.name_kind,
        date_dirt=ident.date_kind,
        alive=p["alive"][idx],
    )
    return SourceTables(rows, truth)
