"""The synthetic welfare model has what real surveys show and a log-linear PMT cannot represent (issue 17):
region x asset interactions, heteroscedastic transient error, thresholds; so a benchmark on it can tell
welfare models apart instead of flattering a linear one."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dtsen.engine import get_engine
from dtsen.synth.generate import SynthRequest, generate
from dtsen.welfare.features import build_features
from dtsen.welfare.train import feature_matrix

JAVA_BALI = ["31", "32", "33", "34", "35", "36", "51"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Families (with province and kab codes) and living persons of a 40k-person national run."""
    out = tmp_path_factory.mktemp("synth_consumption")
    generate(SynthRequest(persons=40_000, out=out, seed=11, force=True, workers=1, fmt="parquet"))
    families = pl.read_parquet(out / "truth" / "families.parquet").with_columns(
        kode_prov=pl.col("kode_desa").str.slice(0, 2), kode_kab=pl.col("kode_desa").str.slice(0, 4)
    )
    persons = pl.read_parquet(out / "truth" / "persons.parquet").filter(pl.col("alive"))
    return families, persons


def test_an_asset_says_more_about_welfare_in_the_rural_outer_islands(
    truth: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    families, _ = truth
    y = families["log_consumption"].to_numpy()
    urban = families["urban"].to_numpy()
    java = families["kode_prov"].is_in(JAVA_BALI).to_numpy()
    for asset in ("aset_lemari_es", "aset_sepeda_motor", "aset_tv_layar_datar"):
        has = families[asset].to_numpy()

        def gap(rows: np.ndarray, has: np.ndarray = has) -> float:
            return float(y[rows & has].mean() - y[rows & ~has].mean())

        # owners vs non-owners: the same asset separates the better-off far more where few have it
        assert gap(~urban & ~java) - gap(urban & java) > 0.25, asset


def test_consumption_shocks_are_heteroscedastic_and_unseen_by_the_house(
    truth: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """Residuals of a linear model on every PMT feature: wider for own-account and casual workers than for
    employees, and a share of consumption (this year's shocks) no observable can recover."""
    families, persons = truth
    eng = get_engine("duckdb")
    built = build_features(
        eng.memtable(families.drop("alamat", "alamat_2022").to_arrow()),
        eng.memtable(persons.to_arrow()),
        key="family_id",
    )
    features = pl.from_arrow(eng.to_pyarrow(built))
    assert isinstance(features, pl.DataFrame)
    features = features.join(
        families.select("family_id", "log_consumption"), on="family_id", maintain_order="left"
    ).filter(pl.col("jumlah_anggota") > 0)
    x = feature_matrix(features)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    x = np.column_stack([np.ones(len(x)), x[:, x.std(axis=0) > 0]])
    y = features["log_consumption"].to_numpy()
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    status = features["kepala_status_pekerjaan"].fill_null(0).to_numpy()
    own_account = resid[np.isin(status, [1, 2, 3, 6, 7])].std()
    employee = resid[np.isin(status, [4, 5])].std()
    assert own_account > 1.4 * employee
    assert 1 - resid.var() / y.var() < 0.85  # a PMT cannot see this year's shocks
