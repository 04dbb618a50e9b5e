"""Where synthetic people live: persons per kabupaten/kota from Dukcapil population, villages weighted
deterministically, and an urban flag per village.

Village populations are not published with the region list, so each village gets a fixed pseudo-random
weight derived from its code (kelurahan larger than desa). The weights depend on the code only, never on
the run seed, so a village is the same size in every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from dtsen.reference import regions

KELURAHAN_WEIGHT = 3.5  # kelurahan average ~3-4x the population of a desa *(assumption)*
URBAN_DESA_IN_KABUPATEN = 0.26  # desa classified urban (BPS) in kabupaten *(assumption; urban share ~57%)*
# Eastern Indonesia (NTT, Maluku, Papua): poorer rural agriculture, less rural electricity
EASTERN = frozenset({"53", "81", "82", "91", "92", "93", "94", "95", "96"})


def hash_uniform(codes: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) from integer codes via SplitMix64: a stable property of a region, seed-free."""
    with np.errstate(over="ignore"):
        x = codes.astype(np.uint64) + np.uint64(salt % (1 << 63)) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def hash_normal(codes: np.ndarray, salt: int) -> np.ndarray:
    """Standard normal from codes (Box-Muller on two hashed uniforms)."""
    u1 = np.clip(hash_uniform(codes, salt), 1e-12, 1.0)
    u2 = hash_uniform(codes, salt + 7919)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def select_kabupaten(provinces: list[str] | None = None, kabupaten: list[str] | None = None) -> pl.DataFrame:
    """The kabupaten/kota a run covers, with population; raises ``ValueError`` on an unknown code."""
    kab = regions.kabupaten()
    if kabupaten:
        unknown = sorted(set(kabupaten) - set(kab["kode"].to_list()))
        if unknown:
            raise ValueError(f"unknown kabupaten/kota code(s): {', '.join(unknown)}")
        kab = kab.filter(pl.col("kode").is_in(kabupaten))
    elif provinces:
        unknown = sorted(set(provinces) - set(regions.provinces()["kode"].to_list()))
        if unknown:
            raise ValueError(f"unknown province code(s): {', '.join(unknown)}")
        kab = kab.filter(pl.col("kode_prov").is_in(provinces))
    return kab.select("kode", "nama", "kode_prov", "is_kota", "total").sort("kode")


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder, deterministic)."""
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    remainder = total - int(base.sum())
    if remainder:
        order = np.lexsort((np.arange(len(share)), -(share - base)))
        base[order[:remainder]] += 1
    return base


@dataclass(frozen=True)
class VillageFrame:
    """Villages of some kabupaten as parallel arrays (fast to index while generating)."""

    kode: np.ndarray  # str, 10 digits
    kode_int: np.ndarray  # int64
    kab_index: np.ndarray  # index into the chunk's kabupaten list
    weight: np.ndarray
    urban: np.ndarray  # bool

    def for_kab(self, i: int) -> np.ndarray:
        return np.flatnonzero(self.kab_index == i)


def village_frame(kab_codes: list[str]) -> VillageFrame:
    vil = regions.villages().filter(pl.col("kode_kab").is_in(kab_codes)).sort("kode")
    kode = vil["kode"].to_numpy().astype(str)
    kode_int = vil["kode"].cast(pl.Int64).to_numpy()
    is_kel = vil["is_kelurahan"].to_numpy()
    is_kota = np.array([int(k[2:4]) >= 71 for k in kab_codes])
    kab_pos = {k: i for i, k in enumerate(kab_codes)}
    kab_index = np.array([kab_pos[k] for k in vil["kode_kab"].to_list()], dtype=np.int32)
    weight = np.exp(0.8 * hash_normal(kode_int, 11)) * np.where(is_kel, KELURAHAN_WEIGHT, 1.0)
    urban = is_kel | is_kota[kab_index] | (hash_uniform(kode_int, 23) < URBAN_DESA_IN_KABUPATEN)
    return VillageFrame(kode, kode_int, kab_index, weight, urban)


def slice_codes(codes: np.ndarray, start: int, length: int) -> np.ndarray:
    """Part of each region code string (``'3302012001'`` -> ``'3302'``), vectorized through Polars."""
    return pl.Series("k", codes, dtype=pl.Utf8).str.slice(start, length).to_numpy().astype(object)


def slice_int(codes: np.ndarray, start: int, length: int) -> np.ndarray:
    return pl.Series("k", codes, dtype=pl.Utf8).str.slice(start, length).cast(pl.Int64).to_numpy()
