"""The welfare engine queries (feature builder, desil) give the same answer on Spark as on DuckDB."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dtsen.config import get_settings
from dtsen.engine import Engine, get_engine, spark_session
from dtsen.welfare.features import build_features
from dtsen.welfare.rank import rank

pytestmark = pytest.mark.spark
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="module")
def spark() -> Engine:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI") == "true":
            pytest.fail("no Java; CI=true: Spark tests may not be skipped")
        pytest.skip("no Java for Spark")
    spark_session(get_settings().spark_master, java_options=JAVA_OPTIONS)
    return get_engine("spark")


def _tables(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(8)
    n = 600
    kab = rng.choice(["3401", "3471", "3302"], size=n)
    fam = pl.DataFrame(
        {
            "id_keluarga_dtsen": [f"F{i:04d}" for i in range(n)],
            "kode_prov": [k[:2] for k in kab],
            "kode_kab": kab,
            "kode_desa": [f"{k}01{rng.choice(['1', '2'])}001" for k in kab],
            "jumlah_anggota": rng.integers(1, 7, size=n).astype(np.int16),
            "lantai": rng.integers(1, 10, size=n).astype(np.int8),
            "luas_lantai": rng.integers(10, 200, size=n).astype(np.int32),
            "daya_listrik": pl.Series(
                [None if v == 0 else int(v) for v in rng.integers(0, 4, size=n)], dtype=pl.Int8
            ),
            "aset_mobil": rng.random(n) < 0.2,
            "ternak_sapi": rng.integers(0, 4, size=n).astype(np.int16),
        },
        strict=False,
    )
    members = fam.select("id_keluarga_dtsen", "jumlah_anggota").with_columns(
        pl.int_ranges(0, pl.col("jumlah_anggota")).alias("k")
    )
    members = members.explode("k").with_columns(
        id_dtsen=pl.format("{}-{}", "id_keluarga_dtsen", "k"),
        hubungan=pl.when(pl.col("k") == 0).then(1).otherwise(3).cast(pl.Int8),
        umur=pl.Series(rng.integers(0, 90, size=members["jumlah_anggota"].sum())).cast(pl.Int16),
        status_hidup=pl.Series(rng.random(members["jumlah_anggota"].sum()) > 0.05),
        ijazah_tertinggi=pl.Series(rng.integers(0, 7, size=members["jumlah_anggota"].sum())).cast(pl.Int8),
    )
    fam_path, mem_path = tmp_path / "families.parquet", tmp_path / "persons.parquet"
    fam.write_parquet(fam_path)
    members.drop("k", "jumlah_anggota").write_parquet(mem_path)
    return fam_path, mem_path


def _run(engine: Engine, fam: Path, mem: Path, out: Path) -> pl.DataFrame:
    features = build_features(engine.read_parquet(fam), engine.read_parquet(mem))
    scored = features.mutate(
        skor=features.log_luas_lantai_per_kapita + features.kepala_ijazah.fill_null(0) / 3
    )
    engine.write_parquet(rank(scored), out)
    return pl.read_parquet(out).sort("id_keluarga_dtsen")


def test_features_and_desil_equal_on_spark_and_duckdb(spark: Engine, tmp_path: Path) -> None:
    fam, mem = _tables(tmp_path)
    duck = _run(get_engine("duckdb"), fam, mem, tmp_path / "duck.parquet")
    sparked = _run(spark, fam, mem, tmp_path / "spark.parquet")
    assert duck.columns == sparked.columns
    for column in duck.columns:
        a, b = duck[column], sparked[column]
        if a.dtype.is_float():
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12, err_msg=column)
        else:
            assert a.equals(b), column
