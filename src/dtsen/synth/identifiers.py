"""NIK and KK numbers of the synthetic population, unique across every chunk of a run.

NIKs follow ``PP KK CC DDMMYY SSSS`` with day + 40 for women and the kecamatan of first registration;
KK numbers carry the card's issue date. A chunk owns the prefixes of its own kabupaten; numbers first
registered elsewhere use a reserved serial band per chunk, so chunks generated in parallel never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from dtsen.reference import regions
from dtsen.synth.geography import slice_codes
from dtsen.synth.household import Dynamics, Households, Members, days
from dtsen.synth.params import SynthParams

NON_NATIVE_SERIAL_BASE = 5000  # serials of NIKs first registered outside the chunk: 5000 + 9*chunk + rank
NON_NATIVE_BAND = 9


@dataclass(frozen=True)
class Identifiers:
    nik: np.ndarray  # per person
    nik_kec: np.ndarray  # per person: kecamatan of first registration (the NIK prefix)
    no_kk_siak: np.ndarray  # per family: the card SIAK holds (the old one if a move went unreported)
    no_kk_now: np.ndarray  # per family: the card the family holds now
    no_kk_2022: np.ndarray  # per family: the card Regsosek saw (the parent's for a split family)


def identifiers(
    rng: np.random.Generator,
    hh: Households,
    m: Members,
    dyn: Dynamics,
    chunk_kabs: set[str],
    chunk_index: int,
    params: SynthParams,
) -> Identifiers:
    """NIK of every person and the KK numbers of every family, today and in 2022."""
    ref = params.reference_date
    nf, n, fam = hh.n, m.n, m.fam
    moved, move_day, move_reported, split_new = dyn.moved, dyn.move_day, dyn.move_reported, dyn.split_new
    fam_kec = slice_codes(hh.kode_desa, 0, 6)
    old_kec = slice_codes(dyn.old_desa, 0, 6)
    born_here = (m.birth > np.where(moved, move_day, 0)[fam]) | (m.age < 1)
    adult = m.age >= 17
    migrant = adult & (rng.random(n) < params.lifetime_migrant)
    nik_kec = np.where(moved[fam] & ~born_here, old_kec[fam], fam_kec[fam])
    nik_kec = np.where(migrant, _random_kec(rng, fam_kec[fam], n), nik_kec)
    sex_day_offset = np.where(m.male, 0, 40)
    nik_serial = _serials(rng, nik_kec, m.birth, sex_day_offset, chunk_kabs, chunk_index, fam_kec[fam])
    nik_kec = nik_serial[1]
    nik = _compose(nik_kec, m.birth, sex_day_offset, nik_serial[0])

    kk_issue_now = np.where(
        split_new,
        rng.integers(days(params.regsosek_date) + 1, days(ref), nf),
        np.where(
            move_reported,
            np.minimum(move_day + rng.integers(7, 120, nf), days(ref)),
            # an unchanged family still holds the card Regsosek 2022 saw: issued before the survey
            rng.integers(days(date(2008, 1, 1)), days(params.regsosek_date) - 30, nf),
        ),
    )
    kk_issue_old = np.where(
        moved | split_new,
        rng.integers(days(date(2006, 1, 1)), days(params.regsosek_date) - 30, nf),
        kk_issue_now,
    )
    kk_prefix_now = np.where(moved & ~move_reported, old_kec, fam_kec)
    # one numbering for today's cards and the 2022 cards of movers, so two families never share a number
    mv = np.flatnonzero(moved)
    kk_serial, kk_prefix = _serials(
        rng,
        np.concatenate([kk_prefix_now, old_kec[mv]]),
        np.concatenate([kk_issue_now, kk_issue_old[mv]]),
        np.zeros(nf + len(mv), np.int64),
        chunk_kabs,
        chunk_index,
        np.concatenate([fam_kec, fam_kec[mv]]),
    )
    no_kk_now = _compose(kk_prefix[:nf], kk_issue_now, np.zeros(nf, np.int64), kk_serial[:nf])
    no_kk_old = no_kk_now.copy()
    if len(mv):
        no_kk_old[mv] = _compose(
            kk_prefix[nf:], kk_issue_old[mv], np.zeros(len(mv), np.int64), kk_serial[nf:]
        )
    # families that moved without telling Dukcapil still have the old card there
    no_kk_siak = np.where(moved & ~move_reported, no_kk_old, no_kk_now)
    no_kk_old = np.where(split_new, no_kk_old[np.maximum(dyn.parent_family, 0)], no_kk_old)
    return Identifiers(
        nik=nik, nik_kec=nik_kec, no_kk_siak=no_kk_siak, no_kk_now=no_kk_now, no_kk_2022=no_kk_old
    )


def _random_kec(rng: np.random.Generator, home_kec: np.ndarray, n: int) -> np.ndarray:
    """First-registration kecamatan of a lifetime migrant: 60% from the same kabupaten, else anywhere."""
    all_kec = regions.kecamatan()["kode"].to_numpy().astype(object)
    # vectorized: pick a random kecamatan index inside the same kabupaten via sorted offsets
    sorted_kec = np.sort(all_kec)
    kab_of_kec = slice_codes(sorted_kec, 0, 4)
    home_kab = slice_codes(home_kec, 0, 4)
    first = np.searchsorted(kab_of_kec, home_kab, side="left")
    last = np.searchsorted(kab_of_kec, home_kab, side="right")
    same = sorted_kec[first + (rng.random(n) * np.maximum(last - first, 1)).astype(np.int64)]
    anywhere = sorted_kec[rng.integers(0, len(sorted_kec), n)]
    return np.where(rng.random(n) < 0.6, same, anywhere)


def _serials(
    rng: np.random.Generator,
    prefix: np.ndarray,
    day_number: np.ndarray,
    day_offset: np.ndarray,
    chunk_kabs: set[str],
    chunk_index: int,
    home_kec: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Serials unique per (prefix, encoded date) across every chunk of a run.

    A chunk owns the prefixes of its own kabupaten (serials 0001-4999); a number first registered
    elsewhere gets serial ``5000 + 9*chunk + k`` so chunks generated independently never collide. The
    rare tenth newcomer on one prefix and date in a chunk is re-registered at home instead.
    """
    prefix = prefix.copy()
    n = len(prefix)
    dd = day_number.astype("datetime64[D]")
    y = dd.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (dd.astype("datetime64[M]").astype(np.int64) % 12) + 1
    d = (dd - dd.astype("datetime64[M]")).astype(np.int64) + 1
    ddmmyy = (d + day_offset) * 10000 + m * 100 + (y % 100)
    for _ in range(5):
        native = np.isin(slice_codes(prefix, 0, 4), list(chunk_kabs))
        key = prefix.astype(np.int64) * 1_000_000 + ddmmyy
        serial = np.zeros(n, dtype=np.int64)
        for mask, base in (
            (native, 1),
            (~native, NON_NATIVE_SERIAL_BASE + NON_NATIVE_BAND * (chunk_index % 555)),
        ):
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            k = key[idx]
            order = np.argsort(k, kind="stable")
            ks = k[order]
            start = np.r_[True, ks[1:] != ks[:-1]]
            first = np.maximum.accumulate(np.where(start, np.arange(len(ks)), 0))
            rank = np.arange(len(ks)) - first
            serial[idx[order]] = base + rank
        overflow = (
            ~native
            & (serial >= NON_NATIVE_SERIAL_BASE + NON_NATIVE_BAND * (chunk_index % 555) + NON_NATIVE_BAND)
        ) | (native & (serial >= NON_NATIVE_SERIAL_BASE))
        if not overflow.any():
            return serial, prefix
        prefix[overflow] = home_kec[overflow]
    raise RuntimeError("could not assign unique NIK serials (population too dense for one date)")


def _compose(
    prefix: np.ndarray, day_number: np.ndarray, day_offset: np.ndarray, serial: np.ndarray
) -> np.ndarray:
    """``prefix`` + DDMMYY (day + offset) + 4-digit serial as strings."""
    dd = day_number.astype("datetime64[D]")
    y = dd.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (dd.astype("datetime64[M]").astype(np.int64) % 12) + 1
    d = (dd - dd.astype("datetime64[M]")).astype(np.int64) + 1
    tail = ((d + day_offset) * 10**8 + m * 10**6 + (y % 100) * 10**4 + serial).astype(np.int64)
    return (
        pl.DataFrame({"p": prefix, "t": tail})
        .select(pl.col("p") + pl.col("t").cast(pl.Utf8).str.zfill(10))
        .to_series()
        .to_numpy()
        .astype(object)
    )
