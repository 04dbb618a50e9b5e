"""PLN customers -> ``pln_pelanggan`` (mapping ``pln_pelanggan.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.synth.sources.common import (
    SourceTables,
    make_ids,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources


def build(src: ChunkSources) -> SourceTables:
    """PLN customers: one account per metered family; some accounts in a landlord's or former owner's name."""
    rng = src.rng(5)
    f = src.f
    fam_rows = np.flatnonzero(f["sumber_penerangan"] == 1)
    holder = src.adult_member(rng, fam_rows, 0.88)
    other = rng.random(len(fam_rows)) < src.params.pln_holder_not_member + 0.25 * (
        f["status_bangunan"][fam_rows] == 2
    )
    holder = np.where(other, src.stranger(rng, len(fam_rows)), holder)
    ident = src.admin_identity(rng, holder)
    va = np.array([0, 450, 900, 1300, 2200, 3500])[f["daya_listrik"][fam_rows]]
    va = np.where(va == 3500, rng.choice([3500, 4400, 5500, 7700], len(va), p=[0.5, 0.25, 0.15, 0.1]), va)
    subsidised_900 = (va == 900) & (f["desil"][fam_rows] <= 4) & (rng.random(len(va)) < 0.7)
    tarif = np.select(
        [va == 450, subsidised_900, va == 900, va <= 2200],
        ["R1/450", "R1/900", "R1M/900", "R1/" + pl.Series(va).cast(pl.Utf8).to_numpy().astype(object)],
        "R2/" + pl.Series(va).cast(pl.Utf8).to_numpy().astype(object),
    )
    idpel = make_ids("5", src.chunk, len(fam_rows), 8)
    rows = pl.DataFrame(
        {
            "IDPEL": idpel,
            "NAMA_PELANGGAN": ident.nama,
            "NIK_PELANGGAN": ident.nik,
            "TARIF": tarif,
            "DAYA": va.astype(np.int32),
            "ALAMAT": f["alamat"][fam_rows],
            "KODE_WILAYAH": f["kode_desa"][fam_rows],
        }
    )
    truth = truth_table(
        "pln",
        idpel,
        src.p["person_id"][holder],
        f["family_id"][fam_rows],
        holder_family_id=src.p["family_id"][holder],
        nik_dirt=ident.nik_kind,
        name_dirt=ident.name_kind,
    )
    return SourceTables(rows, truth)
