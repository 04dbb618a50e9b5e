"""Vehicle registry (Korlantas/Samsat) -> ``kendaraan`` (mapping ``kendaraan.yaml``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth.geography import slice_codes
from dtsen.synth.sources.common import (
    SourceTables,
    make_ids,
    truth_table,
)

if TYPE_CHECKING:
    from dtsen.synth.sources.chunk import ChunkSources

# First letters of the number plate by province of registration
PLATE_PREFIX = {
    "11": "BL",
    "12": "BK",
    "13": "BA",
    "14": "BM",
    "15": "BH",
    "16": "BG",
    "17": "BD",
    "18": "BE",
    "19": "BN",
    "21": "BP",
    "31": "B",
    "32": "D",
    "33": "H",
    "34": "AB",
    "35": "L",
    "36": "A",
    "51": "DK",
    "52": "DR",
    "53": "DH",
    "61": "KB",
    "62": "KH",
    "63": "DA",
    "64": "KT",
    "65": "KU",
    "71": "DB",
    "72": "DN",
    "73": "DD",
    "74": "DT",
    "75": "DM",
    "76": "DC",
    "81": "DE",
    "82": "DG",
    "91": "PA",
    "92": "PB",
    "93": "PS",
    "94": "PT",
    "95": "PG",
    "96": "PY",
}


def build(src: ChunkSources) -> SourceTables:
    """Vehicle registry: motorcycles and cars; a used vehicle is often still in the seller's name."""
    rng = src.rng(7)
    f = src.f
    moto = np.flatnonzero(f[rc.Aset.SEPEDA_MOTOR.field])
    cars = np.flatnonzero(f[rc.Aset.MOBIL.field])
    moto_n = 1 + rng.poisson(np.where(f["desil"][moto] >= 6, 0.7, 0.3))
    car_n = 1 + rng.poisson(np.where(f["desil"][cars] >= 9, 0.5, 0.1))
    fam_rows = np.concatenate([np.repeat(moto, moto_n), np.repeat(cars, car_n)])
    kind = np.concatenate([np.zeros(moto_n.sum(), np.int8), np.ones(car_n.sum(), np.int8)])
    owner = src.adult_member(rng, fam_rows, 0.7)
    not_transferred = rng.random(len(fam_rows)) < 0.08
    owner = np.where(not_transferred, src.stranger(rng, len(fam_rows)), owner)
    ident = src.admin_identity(rng, owner)
    year = np.clip(
        2026 - rng.gamma(2.0, 3.5, len(fam_rows)) + (f["desil"][fam_rows] - 5) * 0.6, 1985, 2026
    ).astype(np.int16)
    moto_brands = np.array(["HONDA", "YAMAHA", "SUZUKI", "KAWASAKI", "TVS"])
    car_brands = np.array(
        ["TOYOTA", "DAIHATSU", "HONDA", "MITSUBISHI", "SUZUKI", "NISSAN", "WULING", "HYUNDAI"]
    )
    brand = np.where(
        kind == 0,
        moto_brands[rng.choice(5, len(kind), p=[0.74, 0.2, 0.03, 0.02, 0.01])],
        car_brands[rng.choice(8, len(kind), p=[0.34, 0.18, 0.14, 0.13, 0.1, 0.04, 0.04, 0.03])],
    )
    jenis = np.where(
        kind == 0,
        "SEPEDA MOTOR",
        np.where(rng.random(len(kind)) < 0.85, "MOBIL PENUMPANG", "MOBIL BARANG"),
    )
    plate = _plates(rng, slice_codes(f["kode_desa"][fam_rows], 0, 2))
    reg_id = make_ids("KB", src.chunk, len(fam_rows), 8)
    rows = pl.DataFrame(
        {
            "NO_REGISTRASI": reg_id,
            "NOPOL": plate,
            "JENIS_KENDARAAN": jenis,
            "MEREK": brand,
            "TAHUN_PEMBUATAN": year,
            "NIK_PEMILIK": ident.nik,
            "NAMA_PEMILIK": ident.nama,
            "ALAMAT_PEMILIK": f["alamat"][fam_rows],
        }
    )
    truth = truth_table(
        "ranmor",
        reg_id,
        src.p["person_id"][owner],
        src.p["family_id"][owner],
        user_family_id=f["family_id"][fam_rows],
        nik_dirt=ident.nik_kind,
        name_dirt=ident.name_kind,
        not_transferred=not_transferred,
    )
    return SourceTables(rows, truth)


_PLATE_LETTERS = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))


def _plates(rng: np.random.Generator, prov: np.ndarray) -> np.ndarray:
    """Number plates: the province prefix, a number, two letters (realistic, not a key)."""
    letters = _PLATE_LETTERS
    return (
        pl.DataFrame(
            {
                "p": pl.Series(prov, dtype=pl.Utf8).replace_strict(PLATE_PREFIX, default="B").to_numpy(),
                "n": rng.integers(1, 10000, len(prov)),
                "a": letters[rng.integers(0, len(letters), len(prov))],
                "b": letters[rng.integers(0, len(letters), len(prov))],
            }
        )
        .select(
            pl.col("p") + pl.lit(" ") + pl.col("n").cast(pl.Utf8) + pl.lit(" ") + pl.col("a") + pl.col("b")
        )
        .to_series()
        .to_numpy()
        .astype(object)
    )
