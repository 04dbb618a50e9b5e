"""Ranking integrity of a published snapshot: who is ranked, who is not and why, by region; and, where the
synthetic truth is at hand, how well desil 1 holds the truly poorest and what the unranked families are.

The "before" figure is the old rule replayed on the same snapshot: every unrankable family with members
placed below the poorest ranked one (missing items scored as the worst values put 607 of 627 such families
of the demo in desil 1), so both figures come from one run and one truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dtsen.welfare.features import ASSETS, LIVESTOCK
from dtsen.welfare.rank import KEY
from dtsen.welfare.rankable import RANKED

BOTTOM_DESIL = 0.10
POOR_SHARE = 0.40  # desil 1-4: the programs' target


def status_by_region(scores: pl.DataFrame, region: str = "kode_kab") -> list[dict[str, Any]]:
    """Families ranked and not ranked (by reason) per region, for the cycle report and the field queue."""
    if "status_peringkat" not in scores.columns:
        return []
    wide = (
        scores.with_columns(alasan=pl.col("alasan_tidak_diperingkat").fill_null(RANKED))
        .group_by(region, "alasan")
        .agg(pl.len().alias("keluarga"), pl.col("jumlah_anggota").sum().alias("jiwa"))
        .pivot(on="alasan", index=region, values="keluarga")
        .fill_null(0)
        .sort(region)
    )
    return wide.to_dicts()


# The family columns an explanation group speaks about: a sentence of the group is only true when at least
# one of them was observed for that family. Groups about members (size, head, education, work) and the
# region are always observed once the family has members.
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "status_rumah": ("status_bangunan",),
    "luas_lantai": ("luas_lantai",),
    "lantai": ("lantai",),
    "dinding": ("dinding",),
    "atap": ("atap",),
    "air_minum": ("sumber_air_minum",),
    "penerangan": ("sumber_penerangan", "daya_listrik"),
    "bahan_bakar": ("bahan_bakar_masak",),
    "sanitasi": ("fasilitas_bab", "pembuangan_tinja"),
    "jumlah_aset": ASSETS,
    "ternak": LIVESTOCK,
    **{a: (a,) for a in ASSETS},
}


def explanation_problems(snapshot_dir: Path) -> pl.DataFrame:
    """Every explanation sentence of a snapshot that speaks of an item nobody observed for that family, and
    every unranked family explained by anything but its reason (empty when the snapshot is sound)."""
    snapshot_dir = Path(snapshot_dir)
    scores = pl.read_parquet(snapshot_dir / "scores.parquet")
    columns = sorted({c for cs in GROUP_COLUMNS.values() for c in cs})
    families = pl.read_parquet(snapshot_dir / "families.parquet")
    families = families.select(KEY, *(c for c in columns if c in families.columns))
    items = (
        scores.select(KEY, "penjelasan", *(c for c in ("alasan_tidak_diperingkat",) if c in scores.columns))
        .explode("penjelasan")
        .unnest("penjelasan")
        .filter(pl.col("faktor").is_not_null())
        .join(families, on=KEY, how="left")
    )
    checks = [
        pl.when(pl.col("faktor") == group)
        .then(~pl.any_horizontal(*(pl.col(c).is_not_null() for c in cols if c in families.columns)))
        .otherwise(pl.lit(False))
        for group, cols in GROUP_COLUMNS.items()
    ]
    # "owns k of 18 assets" speaks of all 18: every asset item must have been observed
    checks.append(
        pl.when(pl.col("faktor") == "jumlah_aset")
        .then(~pl.all_horizontal(*(pl.col(c).is_not_null() for c in ASSETS if c in families.columns)))
        .otherwise(pl.lit(False))
    )
    unobserved = pl.any_horizontal(*checks)
    if "alasan_tidak_diperingkat" in items.columns:
        off_reason = pl.col("alasan_tidak_diperingkat").is_not_null() & (
            pl.col("faktor") != pl.col("alasan_tidak_diperingkat")
        )
        unobserved = unobserved | off_reason
    return items.filter(unobserved).select(KEY, "faktor", "kalimat")


QUEUE_COLUMNS = (
    "urutan",
    "kategori",
    KEY,
    "no_kk",
    "kode_desa",
    "alamat",
    "rt",
    "rw",
    "jumlah_anggota",
    "alasan_tidak_diperingkat",
    "model_peringkat",
    "desil_nasional",
    "p_desil_le4",
)


def field_queue(snapshot_dir: Path, region: str | None = None) -> pl.DataFrame:
    """A region's families in the order field staff should see them: unranked families first (they need
    data collection, pendataan; by reason, largest families first), then families ranked on
    administrative data only, then borderline survey families (closest to the desil-4 cut-off first)."""
    snapshot_dir = Path(snapshot_dir)
    scores = pl.read_parquet(snapshot_dir / "scores.parquet")
    if "status_peringkat" not in scores.columns:
        raise ValueError(
            f"{snapshot_dir}: scores.parquet has no ranking status (snapshot older than 2026-12)"
        )
    families = pl.read_parquet(
        snapshot_dir / "families.parquet", columns=[KEY, "no_kk", "kode_desa", "alamat", "rt", "rw"]
    )
    if region:
        families = families.filter(pl.col("kode_desa").str.starts_with(region))
    j = families.join(scores.drop("kode_prov", "kode_kab"), on=KEY, how="inner")
    kategori = (
        pl.when(pl.col("status_peringkat") != RANKED)
        .then(pl.lit("pendataan"))
        .when(pl.col("model_peringkat") == "administratif")
        .then(pl.lit("verval_data_administratif"))
        .when(pl.col("borderline"))
        .then(pl.lit("verval_borderline"))
        .otherwise(None)
    )
    order = pl.when(kategori == "pendataan").then(0).when(kategori == "verval_data_administratif").then(1)
    queued = (
        j.with_columns(kategori=kategori, _o=order.otherwise(2), _d=(pl.col("p_desil_le4") - 0.5).abs())
        .filter(pl.col("kategori").is_not_null())
        .sort(
            ["_o", "alasan_tidak_diperingkat", "jumlah_anggota", "_d", KEY],
            descending=[False, False, True, False, False],
            nulls_last=True,
        )
        .with_row_index("urutan", offset=1)
    )
    return queued.select(QUEUE_COLUMNS)


def _true_families(snapshot_dir: Path, synth_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per golden family: the true family most of its members belong to and its consumption; the true
    families with their sizes)."""
    from dtsen.linkage.config import LinkConfig
    from dtsen.linkage.evaluate import truth_links

    spine = LinkConfig().spine_source  # the synthetic data's register (a snapshot keeps no link settings)
    links = pl.read_parquet(snapshot_dir / "links.parquet", columns=["berkas", "baris", "id_dtsen", "sumber"])
    owner = (
        links.join(truth_links(synth_dir).select("berkas", "baris", "person_id"), on=["berkas", "baris"])
        .filter(pl.col("id_dtsen").is_not_null())
        .group_by("id_dtsen", "person_id")
        .agg(spine=(pl.col("sumber") == spine).any(), n=pl.len())
        .sort(["id_dtsen", "spine", "n"], descending=[False, True, True])
        .unique("id_dtsen", keep="first", maintain_order=True)
        .select("id_dtsen", "person_id")
    )
    persons = pl.read_parquet(snapshot_dir / "persons.parquet", columns=["id_dtsen", KEY])
    true_persons = pl.read_parquet(
        synth_dir / "truth" / "persons.parquet", columns=["person_id", "family_id"]
    )
    true_fam = pl.read_parquet(
        synth_dir / "truth" / "families.parquet", columns=["family_id", "log_consumption", "size"]
    )
    return (
        persons.join(owner, on="id_dtsen")
        .join(true_persons, on="person_id")
        .group_by(KEY, "family_id")
        .agg(n=pl.len())
        .sort([KEY, "n", "family_id"], descending=[False, True, False])
        .unique(KEY, keep="first", maintain_order=True)
        .join(true_fam, on="family_id")
        .select(KEY, "family_id", "log_consumption")
    ), true_fam


def _weighted_cut(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cum, share)])


def _bottom_desil(frame: pl.DataFrame, order: list[str]) -> pl.Series:
    """Families whose persons' midpoint falls in the first 10% when ordered by ``order``."""
    f = frame.sort(order)
    w = f["jumlah_anggota"].cast(pl.Float64).fill_null(0).to_numpy()
    mid = (np.cumsum(w) - w / 2) / max(w.sum(), 1.0)
    return f.filter(pl.Series(mid < BOTTOM_DESIL))[KEY]


def truth_check(snapshot_dir: Path, synth_dir: Path) -> dict[str, Any]:
    """Desil 1 and the unranked families judged against the synthetic truth, after and before."""
    snapshot_dir, synth_dir = Path(snapshot_dir), Path(synth_dir)
    scores = pl.read_parquet(snapshot_dir / "scores.parquet")
    truth, true_fam = _true_families(snapshot_dir, synth_dir)
    sizes = true_fam["size"].cast(pl.Float64).to_numpy()
    cut10 = _weighted_cut(true_fam["log_consumption"].to_numpy(), sizes, BOTTOM_DESIL)
    cut40 = _weighted_cut(true_fam["log_consumption"].to_numpy(), sizes, POOR_SHARE)
    s = scores.join(truth, on=KEY, how="left").with_columns(
        bawah10=pl.col("log_consumption") <= cut10, miskin=pl.col("log_consumption") <= cut40
    )
    has_status = "status_peringkat" in s.columns
    ranked = s.filter(pl.col("status_peringkat") == RANKED) if has_status else s
    unranked = s.filter(pl.col("status_peringkat") != RANKED) if has_status else s.clear()

    def wrong_share(ids: pl.Series) -> dict[str, Any]:
        chosen = s.filter(pl.col(KEY).is_in(ids.implode()) & pl.col("log_consumption").is_not_null())
        n = chosen.height
        wrong = int((~chosen["bawah10"]).sum())
        return {
            "keluarga": n,
            "bukan_10_persen_termiskin": wrong,
            "porsi": round(wrong / n, 4) if n else None,
        }

    after = wrong_share(ranked.filter(pl.col("desil_nasional") == 1)[KEY])
    # the old rule: unrankable families with members placed below every ranked one
    with_members = s.filter(pl.col("jumlah_anggota") > 0).with_columns(
        _urut=pl.when(pl.col("status_peringkat") == RANKED).then(1).otherwise(0) if has_status else pl.lit(1),
        _skor=pl.col("skor").fill_null(-np.inf),
    )
    before = wrong_share(_bottom_desil(with_members, ["_urut", "_skor", KEY]))
    known = unranked.filter(pl.col("log_consumption").is_not_null())
    by_reason = (
        known.group_by("alasan_tidak_diperingkat")
        .agg(
            keluarga=pl.len(),
            benar_miskin=pl.col("miskin").sum(),
            benar_10_persen_termiskin=pl.col("bawah10").sum(),
        )
        .sort("alasan_tidak_diperingkat")
        .to_dicts()
        if known.height
        else []
    )
    return {
        "desil1_setelah": after,
        "desil1_sebelum_aturan_lama": before,
        "tidak_diperingkat": {
            "keluarga": unranked.height,
            "dengan_kebenaran": known.height,
            # truly poor (bottom 40%): would be missed until data collection reaches them
            "benar_miskin": int(known["miskin"].sum()) if known.height else 0,
            # not truly poor: under the old rule most of these sat in desil 1 and were paid
            "bukan_miskin": int((~known["miskin"]).sum()) if known.height else 0,
            "per_alasan": by_reason,
        },
        "batas_log_konsumsi": {"desil1": round(cut10, 4), "desil4": round(cut40, 4)},
    }
