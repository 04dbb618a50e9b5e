"""Realistic data-quality problems, applied to a source copy of the truth, each recorded per row.

Every function returns the dirty values and an ``int8`` kind per row (0 = clean) so the truth files say
exactly what was done; the ingestion and linkage tests check their findings against these kinds.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import polars as pl

from dtsen.synth.params import DirtParams


class NikDirt(IntEnum):
    CLEAN = 0
    MISSING = 1
    TRANSPOSED = 2  # two adjacent digits swapped
    TYPO = 3  # one digit mistyped
    EXCEL = 4  # went through a spreadsheet: 3.30201E+15
    TRUNCATED = 5  # a digit lost
    GANDA = 6  # another person's NIK (borrowed from a relative, or an operator slip)


class DateDirt(IntEnum):
    CLEAN = 0
    SWAPPED = 1  # day and month exchanged
    DEFAULT = 2  # unknown day and month entered as 1 January
    YEAR_TYPO = 3


def excel_rendering(values: np.ndarray) -> np.ndarray:
    """How a 16-digit number looks after a spreadsheet stored it as a number: ``3.30201E+15``."""
    return np.array([f"{int(v):.5E}".replace("E+", "E+") for v in values], dtype=object)


def _typo(rng: np.random.Generator, s: str) -> str:
    i = int(rng.integers(6, len(s)))  # keep the region prefix: typos in it are rarer in practice
    d = str((int(s[i]) + int(rng.integers(1, 10))) % 10)
    return s[:i] + d + s[i + 1 :]


def _transpose(rng: np.random.Generator, s: str) -> str:
    for _ in range(8):
        i = int(rng.integers(0, len(s) - 1))
        if s[i] != s[i + 1]:
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    return _typo(rng, s)


def identifier_dirt(
    rng: np.random.Generator,
    values: np.ndarray,
    rates: dict[NikDirt, float],
    ganda_pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply exclusive identifier problems at the given rates; returns (values, kind per row)."""
    n = len(values)
    out = values.astype(object).copy()
    kind = np.zeros(n, dtype=np.int8)
    u = rng.random(n)
    lo = 0.0
    for k, rate in rates.items():
        if rate <= 0:
            continue
        rows = np.flatnonzero((u >= lo) & (u < lo + rate) & (values != ""))
        lo += rate
        if not len(rows):
            continue
        kind[rows] = k
        if k is NikDirt.MISSING:
            out[rows] = ""
        elif k is NikDirt.EXCEL:
            out[rows] = excel_rendering(values[rows])
        elif k is NikDirt.GANDA and ganda_pool is not None and len(ganda_pool):
            out[rows] = ganda_pool[rng.integers(0, len(ganda_pool), len(rows))]
        else:
            fn = {NikDirt.TRANSPOSED: _transpose, NikDirt.TYPO: _typo}.get(k)
            for r in rows:
                v = str(values[r])
                if fn is not None:
                    out[r] = fn(rng, v)
                else:  # truncated: a digit dropped somewhere after the region prefix
                    i = int(rng.integers(6, len(v)))
                    out[r] = v[:i] + v[i + 1 :]
    kind[(kind == NikDirt.GANDA) & (out == values)] = NikDirt.CLEAN
    return out, kind


def nik_rates(p: DirtParams) -> dict[NikDirt, float]:
    return {
        NikDirt.MISSING: p.nik_missing,
        NikDirt.TRANSPOSED: p.nik_transposed,
        NikDirt.TYPO: p.nik_typo,
        NikDirt.EXCEL: p.nik_excel,
        NikDirt.TRUNCATED: p.nik_truncated,
        NikDirt.GANDA: p.nik_ganda,
    }


def kk_rates(p: DirtParams) -> dict[NikDirt, float]:
    """An 'invalid KK' is missing, truncated, spreadsheet-mangled or mistyped in these proportions."""
    r = p.kk_invalid
    return {
        NikDirt.MISSING: 0.3 * r,
        NikDirt.TRUNCATED: 0.25 * r,
        NikDirt.EXCEL: 0.2 * r,
        NikDirt.TYPO: 0.25 * r,
    }


def date_dirt(rng: np.random.Generator, dates: np.ndarray, p: DirtParams) -> tuple[np.ndarray, np.ndarray]:
    """Dates as ``datetime64[D]`` with swaps (only where the swap is still a date), defaults, year typos."""
    n = len(dates)
    out = dates.copy()
    kind = np.zeros(n, dtype=np.int8)
    frame = pl.DataFrame({"d": dates}).with_columns(
        pl.col("d").dt.year().alias("y"), pl.col("d").dt.month().alias("m"), pl.col("d").dt.day().alias("dd")
    )
    y, m, d = frame["y"].to_numpy(), frame["m"].to_numpy(), frame["dd"].to_numpy()
    u = rng.random(n)
    swap = (u < p.date_swap) & (d <= 12) & (d != m)
    default = (u >= p.date_swap) & (u < p.date_swap + p.date_default) & ~((d == 1) & (m == 1))
    year = (u >= p.date_swap + p.date_default) & (u < p.date_swap + p.date_default + p.date_year_typo)
    rebuilt = (
        pl.DataFrame(
            {
                "y": np.where(year, y + rng.choice([-10, -1, 1, 10], n), y),
                "m": np.where(swap, d, np.where(default, 1, m)),
                "d": np.where(swap, m, np.where(default, 1, np.where(year & (m == 2) & (d == 29), 28, d))),
            }
        )
        .select(pl.date(pl.col("y"), pl.col("m"), pl.col("d")).alias("x"))["x"]
        .to_numpy()
    )
    changed = swap | default | year
    out[changed] = rebuilt[changed]
    kind[swap], kind[default], kind[year] = DateDirt.SWAPPED, DateDirt.DEFAULT, DateDirt.YEAR_TYPO
    return out, kind
