"""Places a synthetic family is written with: a previous village, addresses, birth places."""

from __future__ import annotations

import numpy as np
import polars as pl

from dtsen.reference import regions
from dtsen.synth.geography import slice_codes


def old_villages(rng: np.random.Generator, chunk_villages: np.ndarray, nf: int) -> np.ndarray:
    """A previous address: mostly elsewhere in the chunk, sometimes anywhere in Indonesia."""
    everywhere = regions.villages()["kode"].to_numpy().astype(object)
    near = chunk_villages[rng.integers(0, len(chunk_villages), nf)]
    far = everywhere[rng.integers(0, len(everywhere), nf)]
    return np.where(rng.random(nf) < 0.7, near, far)


def birthplaces(nik_kec: np.ndarray) -> np.ndarray:
    """Birth place as SIAK writes it: the kabupaten/kota name of first registration, upper case."""
    kab = regions.kabupaten().select("kode", "nama")
    names = {
        k: v.upper().replace("KABUPATEN ", "").replace("KOTA ", "KOTA ").replace("KEPULAUAN ", "KEP. ")
        for k, v in kab.iter_rows()
    }
    keys = slice_codes(nik_kec, 0, 4)
    uniq, inv = np.unique(keys, return_inverse=True)
    table = np.array([names.get(k, "-") for k in uniq], dtype=object)
    return table[inv]


# Words of street names (urban addresses are "JL. <word> NO. <n>")
_STREET_WORDS = (
    "MERDEKA SUDIRMAN DIPONEGORO GATOT SUBROTO AHMAD YANI KARTINI PAHLAWAN PEMUDA VETERAN "
    "PATIMURA SISINGAMANGARAJA HASANUDDIN IMAM BONJOL TEUKU UMAR CUT NYAK DIEN KI HAJAR DEWANTARA "
    "MH THAMRIN GAJAH MADA HAYAM WURUK RAYA CEMPAKA MAWAR MELATI ANGGREK KENANGA FLAMBOYAN MANGGA "
    "RAMBUTAN NANGKA SALAK DURIAN KELAPA BERINGIN CENDANA SEROJA DAHLIA"
)
_STREETS = np.array(_STREET_WORDS.split())


def addresses(
    rng: np.random.Generator, urban: np.ndarray, nf: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A street address in towns, a dusun in villages, with RT and RW numbers."""
    street = _STREETS[rng.integers(0, len(_STREETS), nf)]
    number = rng.integers(1, 250, nf)
    dusun = rng.integers(1, 9, nf)
    frame = pl.DataFrame({"s": street, "n": number, "d": dusun, "u": urban})
    alamat = frame.select(
        pl.when(pl.col("u"))
        .then(pl.lit("JL. ") + pl.col("s") + pl.lit(" NO. ") + pl.col("n").cast(pl.Utf8))
        .otherwise(pl.lit("DUSUN ") + pl.col("d").cast(pl.Utf8))
    ).to_series()
    rt = rng.integers(1, 16, nf).astype(np.int16)
    rw = rng.integers(1, 9, nf).astype(np.int16)
    return alamat.to_numpy().astype(object), rt, rw
