"""What every agency export of the synthetic population shares: the list of exports, record ids,
code spellings, date formats, generated IDs, the dirt of field-collected person fields, truth links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from dtsen.reference import codes as rc
from dtsen.synth import names as nm
from dtsen.synth.dirt import date_dirt, identifier_dirt, nik_rates
from dtsen.synth.params import DirtParams

# Each export (file name, mapping name) and the source system it belongs to.
SOURCES: dict[str, str] = {
    "siak_penduduk": "siak",
    "regsosek_keluarga": "regsosek",
    "regsosek_anggota": "regsosek",
    "dtks": "dtks",
    "p3ke": "p3ke",
    "pln_pelanggan": "pln",
    "bpjs_peserta": "bpjs_kesehatan",
    "kendaraan": "ranmor",
    "bidang_tanah": "atr_bpn",
    "susenas_rumah_tangga": "susenas",
    "susenas_anggota": "susenas",
}

# The column(s) that identify a row of each export; truth's record_id joins them with "-".
RECORD_ID: dict[str, tuple[str, ...]] = {
    "siak_penduduk": ("NIK",),
    "regsosek_keluarga": ("ID_KELUARGA",),
    "regsosek_anggota": ("ID_KELUARGA", "NO_ART"),
    "dtks": ("IDDTKS",),
    "p3ke": ("ID_INDIVIDU",),
    "pln_pelanggan": ("IDPEL",),
    "bpjs_peserta": ("NOKA",),
    "kendaraan": ("NO_REGISTRASI",),
    "bidang_tanah": ("NIB",),
    "susenas_rumah_tangga": ("ID_RUTA",),
    "susenas_anggota": ("ID_RUTA", "ART_NO"),
}


@dataclass
class SourceTables:
    """One chunk's rows for one output file and its truth links."""

    rows: pl.DataFrame
    truth: pl.DataFrame


def labels(enum: type[rc.CodeList], values: np.ndarray, upper: bool = True) -> np.ndarray:
    table = {int(m): (m.label.upper() if upper else m.label) for m in enum}
    lookup = np.array([table.get(i, "") for i in range(max(table) + 1)], dtype=object)
    return lookup[np.clip(values.astype(np.int64), 0, len(lookup) - 1)]


def fmt_dates(dates: np.ndarray, fmt: str) -> np.ndarray:
    return pl.Series("d", dates).dt.strftime(fmt).fill_null("").to_numpy().astype(object)


def mixed_dates(rng: np.random.Generator, dates: np.ndarray, formats: list[tuple[str, float]]) -> np.ndarray:
    """The same column in several formats, as exports merged from several districts look."""
    choice = rng.choice(len(formats), size=len(dates), p=[w for _, w in formats])
    out = np.empty(len(dates), dtype=object)
    for i, (fmt, _) in enumerate(formats):
        m = choice == i
        out[m] = fmt_dates(dates[m], fmt)
    return out


def dotted(codes: np.ndarray) -> np.ndarray:
    return (
        pl.Series("k", codes)
        .str.replace(r"^(\d{2})(\d{2})(\d{2})(\d{4})$", "$1.$2.$3.$4")
        .to_numpy()
        .astype(object)
    )


def region_codes(rng: np.random.Generator, codes: np.ndarray, rate_dotted: float) -> np.ndarray:
    return np.where(rng.random(len(codes)) < rate_dotted, dotted(codes), codes).astype(object)


def member_keys(household_ids: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """``<household id>-<member number>``: the record id of a member row (see RECORD_ID)."""
    return (
        pl.DataFrame({"u": household_ids, "s": seq})
        .select(pl.col("u") + pl.lit("-") + pl.col("s").cast(pl.Utf8))
        .to_series()
        .to_numpy()
        .astype(object)
    )


def make_ids(prefix: str, chunk: int, n: int, width: int = 8) -> np.ndarray:
    return (
        pl.DataFrame({"s": np.arange(1, n + 1, dtype=np.int64)})
        .select(pl.lit(f"{prefix}{chunk:03d}") + pl.col("s").cast(pl.Utf8).str.zfill(width))
        .to_series()
        .to_numpy()
        .astype(object)
    )


@dataclass
class Dirtied:
    nama: np.ndarray
    name_kind: np.ndarray
    nik: np.ndarray
    nik_kind: np.ndarray
    tanggal: np.ndarray
    date_kind: np.ndarray


def dirty_person_fields(
    rng: np.random.Generator,
    nama: np.ndarray,
    nik: np.ndarray,
    tanggal: np.ndarray,
    sex: np.ndarray,
    age: np.ndarray,
    education: np.ndarray,
    p: DirtParams,
    ganda_pool: np.ndarray | None = None,
) -> Dirtied:
    """Names, NIKs and birth dates as a field-collected source holds them; kinds say what changed.

    Name kind bits: 1 spelling variant, 2 title, 4 typo.
    """
    name_kind = np.zeros(len(nama), dtype=np.int8)
    out = nama
    if p.name_variant:
        out, changed = nm.name_variants(rng, out, p.name_variant)
        name_kind |= changed.astype(np.int8) * 1
    if p.name_title:
        out, changed = nm.add_titles(rng, out, sex, age, education, p.name_title)
        name_kind |= changed.astype(np.int8) * 2
    if p.name_typo:
        out, changed = nm.typos(rng, out, p.name_typo)
        name_kind |= changed.astype(np.int8) * 4
    nik_out, nik_kind = identifier_dirt(rng, nik, nik_rates(p), ganda_pool)
    date_out, date_kind = date_dirt(rng, tanggal, p)
    return Dirtied(out, name_kind, nik_out, nik_kind, date_out, date_kind)


def truth_table(
    source: str, record_id: np.ndarray, person_id: np.ndarray, family_id: np.ndarray, **extra: np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": np.full(len(record_id), source, dtype=object),
            "record_id": record_id,
            "person_id": person_id,
            "family_id": family_id,
            **extra,
        }
    )
