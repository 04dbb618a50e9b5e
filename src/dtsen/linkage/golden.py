"""Golden person: one row per id_dtsen with every canonical ``anggota`` attribute after survivorship.

Identity, demography, vital status and address come from the population register (for people not in
it: their most recent record); socio-economic facts (education, work, business, difficulty, health,
programs) from the most recent field observation (Regsosek, DTKS, P3KE by tanggal_data, ties in the
configured order). Every chosen value keeps the record it came from, written to provenance.parquet.
"""

from __future__ import annotations

import polars as pl

from dtsen.canonical.model import entity
from dtsen.linkage.config import Survivorship

IDENTITY_GROUPS = ("Identity", "Presence and vital status", "Location")
FROM_REGISTER = ("pendidikan_siak", "pekerjaan_siak")  # SIAK's own coding of education and occupation
NOT_GOLDEN = frozenset(
    {"id_anggota", "id_anggota_sumber", "id_keluarga", "status_padan", "umur", "desil_kesejahteraan"}
    | {"sumber", "batch_id", "berkas", "baris", "tanggal_data", "flags"}
)
# Dukcapil SHDK (11 codes) -> Regsosek relationship (8 codes), when no field source gives it
SHDK_TO_HUBUNGAN = {1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 6, 9: 8, 10: 7, 11: 8}


def attribute_sets() -> tuple[list[str], list[str]]:
    """(identity attributes, field attributes) of the canonical anggota entity."""
    identity, field = [], []
    for group, fields in entity("anggota").groups():
        for f in fields:
            if f.name in NOT_GOLDEN:
                continue
            (identity if group in IDENTITY_GROUPS or f.name in FROM_REGISTER else field).append(f.name)
    return identity, field


def _rank(frame: pl.LazyFrame, first: list[str], spine_source: str) -> pl.LazyFrame:
    """Two ranks per record: identity (register first, then recency) and field (field sources by recency)."""
    order = {s: len(first) - i for i, s in enumerate(first)}
    priority = pl.col("sumber").replace_strict(order, default=0, return_dtype=pl.Int64)
    days = pl.col("tanggal_data").cast(pl.Int64)
    return frame.with_columns(
        _rank_id=(pl.col("sumber") == spine_source).cast(pl.Int64) * 10**9 + days * 10 + pl.lit(0),
        _rank_field=pl.when(priority > 0).then(days * 10 + priority).otherwise(None),
    )


def golden_persons(
    anggota: pl.LazyFrame, survivorship: Survivorship, spine_source: str
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(persons, provenance) from ``anggota`` rows carrying rid and id_dtsen."""
    identity, field = attribute_sets()
    ranked = _rank(anggota, survivorship.field_sources, spine_source)

    def best(attrs: list[str], rank: str) -> pl.LazyFrame:
        # sort once by rank, best first; per person the first non-null value of each attribute wins
        rows = ranked.filter(pl.col(rank).is_not_null()).sort(
            ["id_dtsen", rank, "rid"], descending=[False, True, False]
        )
        return rows.group_by("id_dtsen").agg(
            *[pl.col(a).drop_nulls().first().alias(a) for a in attrs],
            *[pl.col("rid").filter(pl.col(a).is_not_null()).first().alias(f"_rid_{a}") for a in attrs],
        )

    grouped = (
        best(identity, "_rank_id")
        .join(best(field, "_rank_field"), on="id_dtsen", how="left")
        .join(
            ranked.group_by("id_dtsen").agg(di_dukcapil=(pl.col("sumber") == spine_source).any()),
            on="id_dtsen",
        )
        .collect()
    )
    hub = pl.col("hubungan_siak").replace_strict(SHDK_TO_HUBUNGAN, default=None, return_dtype=pl.Int8)
    persons = grouped.with_columns(hubungan=pl.coalesce(pl.col("hubungan"), hub))
    attrs = identity + field
    provenance = (
        grouped.select("id_dtsen", *[f"_rid_{a}" for a in attrs])
        .unpivot(index="id_dtsen", variable_name="atribut", value_name="rid")
        .filter(pl.col("rid").is_not_null())
        .with_columns(pl.col("atribut").str.strip_prefix("_rid_"))
    )
    return persons.drop([f"_rid_{a}" for a in attrs]).lazy(), provenance.lazy()
