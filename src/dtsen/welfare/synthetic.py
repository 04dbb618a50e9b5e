"""Registry input and ground truth from a synthetic dataset, for benchmarks, tests and the demo report.

Until linkage writes golden families and persons, the registry is stood in for by the ingested Regsosek
tables: each Regsosek family unit becomes one registry family (``id_keluarga`` -> ``id_keluarga_dtsen``)
and its members the persons. The scorer never sees this module; it reads whatever tables it is given.

Truth comes from ``dtsen synth``'s ``truth/``: each Regsosek record's line (``baris``) maps to the true
family, whose true per-capita consumption the scores are judged against.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from dtsen.engine import get_engine
from dtsen.welfare import metrics
from dtsen.welfare.features import DIFFICULTIES
from dtsen.welfare.rank import KEY

AUDIT_GROUPS = ("perkotaan", "jenis_kelamin_kepala", "kepala_lansia", "ada_disabilitas")


def latest_canonical(data_dir: Path, mapping: str, entity: str) -> Path:
    """The canonical table of the newest batch of ``mapping`` under ``data_dir/batches``."""
    found = sorted((Path(data_dir) / "batches").glob(f"*-{mapping}-*/canonical/{entity}.parquet"))
    if not found:
        raise FileNotFoundError(f"no ingested {mapping} batch with {entity} under {data_dir}/batches")
    return found[-1]


def regsosek_registry(data_dir: Path, out_dir: Path, engine: str | None = None) -> tuple[Path, Path]:
    """(families.parquet, persons.parquet) in the golden-table shape, from ingested Regsosek."""
    eng = get_engine(engine)
    out_dir.mkdir(parents=True, exist_ok=True)
    keluarga = eng.read_parquet(latest_canonical(data_dir, "regsosek_keluarga", "keluarga"))
    anggota = eng.read_parquet(latest_canonical(data_dir, "regsosek_anggota", "anggota"))
    families, persons = out_dir / "families.parquet", out_dir / "persons.parquet"
    eng.write_parquet(keluarga.rename({KEY: "id_keluarga"}), families)
    eng.write_parquet(anggota.rename({KEY: "id_keluarga"}), persons)
    return families, persons


def regsosek_truth(data_dir: Path, synth_dir: Path) -> pl.DataFrame:
    """Per registry family (``id_keluarga_dtsen``): true log per-capita consumption and the audit groups
    (true urban status, sex and age of the true head, disability among living members)."""
    keluarga = pl.read_parquet(
        latest_canonical(data_dir, "regsosek_keluarga", "keluarga"), columns=["id_keluarga", "baris"]
    )
    links = pl.read_parquet(
        Path(synth_dir) / "truth" / "links_regsosek_keluarga.parquet", columns=["baris", "family_id"]
    )
    fam = pl.read_parquet(
        Path(synth_dir) / "truth" / "families.parquet", columns=["family_id", "log_consumption", "urban"]
    )
    persons = pl.read_parquet(
        Path(synth_dir) / "truth" / "persons.parquet",
        columns=["family_id", "alive", "hubungan", "jenis_kelamin", "umur", *DIFFICULTIES],
    ).filter(pl.col("alive"))
    head = (
        persons.filter(pl.col("hubungan") == 1)
        .group_by("family_id")
        .agg(pl.col("jenis_kelamin").first(), pl.col("umur").first())
    )
    disabled = persons.group_by("family_id").agg(
        (pl.max_horizontal(pl.col("^sulit_.*$")) >= 3).any().alias("disabilitas")
    )
    return (
        keluarga.join(links, on="baris", how="inner")
        .join(fam, on="family_id", how="inner")
        .join(head, on="family_id", how="left")
        .join(disabled, on="family_id", how="left")
        .select(
            pl.col("id_keluarga").alias(KEY),
            "family_id",
            pl.col("log_consumption").alias("log_truth"),
            pl.when(pl.col("urban"))
            .then(pl.lit("perkotaan"))
            .otherwise(pl.lit("perdesaan"))
            .alias("perkotaan"),
            pl.when(pl.col("jenis_kelamin") == 2)
            .then(pl.lit("perempuan"))
            .otherwise(pl.lit("laki-laki"))
            .alias("jenis_kelamin_kepala"),
            pl.when(pl.col("umur") >= 60)
            .then(pl.lit("ya"))
            .otherwise(pl.lit("tidak"))
            .alias("kepala_lansia"),
            pl.when(pl.col("disabilitas").fill_null(False))
            .then(pl.lit("ya"))
            .otherwise(pl.lit("tidak"))
            .alias("ada_disabilitas"),
        )
    )


def evaluate(scores: pl.DataFrame, truth: pl.DataFrame, score_column: str = "skor") -> dict:
    """Registry scores judged against the truth: targeting at equal coverage, Spearman, interval coverage
    and the subgroup audit (families without living members carry no persons and are left out, and so are
    families the registry may not rank: they have no score, so they take no place in the ranking)."""
    j = scores.join(truth, on=KEY, how="inner").filter(
        (pl.col("jumlah_anggota") > 0) & pl.col(score_column).is_not_null()
    )
    y = j["log_truth"].to_numpy()
    s = j[score_column].to_numpy()
    w = j["jumlah_anggota"].cast(pl.Float64).to_numpy()
    lower = upper = None
    if "batas_bawah" in j.columns and score_column == "skor":
        lower, upper = np.log(j["batas_bawah"].to_numpy()), np.log(j["batas_atas"].to_numpy())
    out = metrics.summary(y, s, w, lower, upper)
    out["matched_families"] = j.height
    out["subgroups"] = metrics.subgroup_audit(
        y,
        s,
        w,
        {"provinsi": j["kode_prov"].fill_null("??").to_numpy(), **{g: j[g].to_numpy() for g in AUDIT_GROUPS}},
    )
    return out
