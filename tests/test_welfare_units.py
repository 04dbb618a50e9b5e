"""Welfare building blocks on data whose answer is known: targeting metrics, stepwise OLS, conformal
intervals and the population-weighted desil (DuckDB), without a synthetic population."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mapie.regression import SplitConformalRegressor

from dtsen.engine import get_engine
from dtsen.welfare import metrics
from dtsen.welfare.baseline import PROV_INDEX, StepwiseOLS, _stepwise
from dtsen.welfare.benchmark import desil_deviation
from dtsen.welfare.features import FEATURE_NAMES
from dtsen.welfare.intervals import conformalize, placement
from dtsen.welfare.rank import rank


# -- metrics ---------------------------------------------------------------------------------------------
def test_perfect_reversed_and_equal_coverage_targeting() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=4000)
    w = rng.integers(1, 8, size=4000).astype(float)
    perfect = metrics.targeting(y, y, w, 0.4)
    assert perfect["exclusion_error"] == pytest.approx(0, abs=1e-3)
    assert perfect["cgh"] == pytest.approx(1 / 0.4, rel=1e-2)
    assert perfect["targeting_differential"] == pytest.approx(1, abs=1e-3)
    worst = metrics.targeting(y, -y, w, 0.4)
    assert worst["exclusion_error"] == pytest.approx(1, abs=1e-3)
    noisy = y + rng.normal(scale=0.8, size=4000)
    at40 = metrics.targeting(y, noisy, w, 0.4)
    assert at40["exclusion_error"] == pytest.approx(
        at40["inclusion_error"], abs=0.01
    )  # equal by construction
    wider = metrics.targeting(y, noisy, w, 0.5)
    assert wider["exclusion_error"] < at40["exclusion_error"]
    assert wider["inclusion_error"] > at40["inclusion_error"]
    assert metrics.targeting_curve_auc(y, y, w) == pytest.approx(1 - 0.4 / 2, abs=0.01)
    assert metrics.targeting_curve_auc(y, rng.normal(size=4000), w) == pytest.approx(0.5, abs=0.05)


def test_bottom_share_is_within_half_a_row_of_the_share() -> None:
    rng = np.random.default_rng(2)
    v = rng.normal(size=999)
    w = rng.integers(1, 10, size=999).astype(float)
    for share in (0.1, 0.4, 0.5):
        picked = metrics.bottom_share(v, w, share)
        assert abs(w[picked].sum() / w.sum() - share) <= w.max() / 2 / w.sum() + 1e-12


def test_subgroup_parity_flags_an_underserved_group() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    group = rng.integers(0, 2, size=n)
    y = rng.normal(size=n)
    score = y + np.where(group == 1, 0.8, 0.0)  # group 1 looks richer than it is
    audit = {r["kelompok"]: r for r in metrics.subgroup_audit(y, score, np.ones(n), {"g": group})}
    assert audit["1"]["parity"] < 0.8 < 1.0 < audit["0"]["parity"]
    assert audit["1"]["exclusion_error"] > audit["0"]["exclusion_error"]


# -- stepwise OLS ----------------------------------------------------------------------------------------
def _design(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    x[:, PROV_INDEX] = rng.choice([31.0, 32.0, 33.0], size=n, p=[0.6, 0.3, 0.1])
    effect = {31.0: 0.0, 32.0: 0.3, 33.0: -0.4}
    y = (
        12
        + 0.5 * x[:, 0]
        - 0.3 * x[:, 5]
        + np.vectorize(effect.get)(x[:, PROV_INDEX])
        + rng.normal(0, 0.3, n)
    )
    return x, y


def test_stepwise_selects_the_true_variables() -> None:
    x, y = _design(3000, 4)
    chosen = _stepwise(np.delete(x, PROV_INDEX, axis=1), y, np.ones(len(y)), 0.001, 30)
    assert set(chosen[:2]) == {0, 5}
    assert len(chosen) <= 4


def test_ols_pools_small_provinces_and_adds_up() -> None:
    x, y = _design(3000, 5)
    model = StepwiseOLS(min_obs=500).fit(x, y, np.ones(len(y)))
    assert set(model.models_) == {"nasional", "31", "32"}  # 33 has ~300 rows: the pooled model
    assert "prov_33" in model.models_["nasional"]["selected"]
    x_test, y_test = _design(2000, 6)
    pred = model.predict(x_test)
    assert np.sqrt(np.mean((pred - y_test) ** 2)) < 0.33
    np.testing.assert_allclose(model.contributions(x_test).sum(axis=1), pred)
    with_nan = x_test.copy()
    with_nan[:5, 0] = np.nan  # imputed with the training mean
    assert np.isfinite(model.predict(with_nan)).all()
    np.testing.assert_allclose(StepwiseOLS.from_dict(model.to_dict()).predict(x_test), pred)


# -- conformal intervals ---------------------------------------------------------------------------------
def test_conformal_interval_matches_mapie_and_covers_eighty_percent() -> None:
    x, y = _design(8000, 9)  # calibration 2000 rows: the realised coverage varies by about 1 pt
    model = StepwiseOLS(min_obs=10_000).fit(x[:2000], y[:2000], np.ones(2000))
    conformal = conformalize(model, x[2000:4000], y[2000:4000], 0.8)
    mapie = SplitConformalRegressor(model, confidence_level=0.8, prefit=True).conformalize(
        x[2000:4000], y[2000:4000]
    )
    _, bounds = mapie.predict_interval(x[4000:])
    lower, upper, p4, p5, border = placement(model.predict(x[4000:]), conformal, 11.8, 12.0)
    np.testing.assert_allclose(lower, bounds[:, 0, 0])
    np.testing.assert_allclose(upper, bounds[:, 1, 0])
    covered = ((y[4000:] >= lower) & (y[4000:] <= upper)).mean()
    assert 0.77 <= covered <= 0.83
    assert (p4 <= p5).all()
    doubt = np.maximum(np.minimum(p4, 1 - p4), np.minimum(p5, 1 - p5))  # 0 = surely one side of both cuts
    assert doubt[border].min() > 0.05
    assert doubt[~border].max() < 0.25 < doubt[border].mean()
    truly_below = y[4000:] <= 11.8
    assert abs(p4.mean() - truly_below.mean()) < 0.03  # calibrated on average


# -- population-weighted desil ---------------------------------------------------------------------------
def _families(n: int, seed: int, ties: bool = False) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    kab = rng.choice(["3301", "3302", "3401", "3471"], size=n)
    score = rng.normal(size=n)
    if ties:
        score = np.round(score, 1)
    return pl.DataFrame(
        {
            "id_keluarga_dtsen": [f"K{i:06d}" for i in rng.permutation(n)],
            "kode_prov": [k[:2] for k in kab],
            "kode_kab": kab,
            "jumlah_anggota": rng.choice(
                [0, 1, 2, 3, 4, 5, 6, 9], size=n, p=[0.01, 0.2, 0.2, 0.2, 0.2, 0.1, 0.07, 0.02]
            ),
            "skor": score,
        }
    )


def _rank(frame: pl.DataFrame) -> pl.DataFrame:
    engine = get_engine("duckdb")
    out = pl.from_arrow(engine.to_pyarrow(rank(engine.memtable(frame.to_arrow()))))
    assert isinstance(out, pl.DataFrame)
    return out.sort("id_keluarga_dtsen")


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), ties=st.booleans())
def test_each_desil_holds_ten_percent_of_persons(seed: int, ties: bool) -> None:
    ranked = _rank(_families(8000, seed, ties))
    assert desil_deviation(ranked, "desil_nasional") <= 0.5
    assert desil_deviation(ranked, "desil_provinsi", "kode_prov") <= 0.5
    assert desil_deviation(ranked, "desil_kabkota", "kode_kab") <= 0.5
    assert sorted(ranked["peringkat"].to_list()) == list(range(1, 8001))
    poorer = ranked.sort("peringkat")
    assert (poorer["desil_nasional"].diff().drop_nulls() >= 0).all()  # desil never falls as the rank rises


def test_same_input_same_desil_and_ties_broken_by_id() -> None:
    frame = _families(3000, 11, ties=True)
    first = _rank(frame)
    second = _rank(frame.sample(fraction=1.0, shuffle=True, seed=1))
    assert first.equals(second)
    tied = first.filter(pl.col("skor") == first["skor"].mode()[0]).sort("peringkat")
    assert tied["id_keluarga_dtsen"].is_sorted()
