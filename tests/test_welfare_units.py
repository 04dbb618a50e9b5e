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
from dtsen.welfare.areas import AREA_COLUMNS
from dtsen.welfare.baseline import StepwiseOLS, _stepwise
from dtsen.welfare.benchmark import desil_deviation
from dtsen.welfare.features import FEATURE_NAMES, FEATURES
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
    wider = metrics.targeting(y, noisy, w, 0.5, target=0.4)  # a fixed target group, wider program
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


# -- stepwise OLS with shrunken area effects --------------------------------------------------------------
PROV_INDEX, KAB_INDEX = FEATURE_NAMES.index("prov"), FEATURE_NAMES.index("kab")
PROV_EFFECT = {31.0: 0.0, 32.0: 0.3, 33.0: -0.4}


def _design(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two household variables (columns 0 and 1, both unsigned), province effects and 8 kab/kota per
    province with their own effects (sd 0.2); kab xx08 is rare (about 1% of its province's rows)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    x[:, PROV_INDEX] = rng.choice([31.0, 32.0, 33.0], size=n, p=[0.6, 0.3, 0.1])
    kab_probs = np.array([0.2, 0.2, 0.15, 0.15, 0.1, 0.1, 0.09, 0.01])
    x[:, KAB_INDEX] = x[:, PROV_INDEX] * 100 + rng.choice(np.arange(1, 9), size=n, p=kab_probs)
    x[:, list(AREA_COLUMNS[2:])] = np.nan  # no deeper level in this survey
    kab_effect = np.random.default_rng(99).normal(0, 0.2, size=(40, 9))  # same effects for every seed
    kab_effect[:, 1:] -= (kab_effect[:, 1:] * kab_probs).sum(axis=1, keepdims=True)  # mean 0 per province
    y = (
        12
        + 0.5 * x[:, 0]
        - 0.3 * x[:, 1]
        + np.vectorize(PROV_EFFECT.get)(x[:, PROV_INDEX])
        + kab_effect[x[:, PROV_INDEX].astype(int) - 0, x[:, KAB_INDEX].astype(int) % 100]
        + rng.normal(0, 0.3, n)
    )
    return x, y


def test_stepwise_selects_the_true_variables() -> None:
    x, y = _design(3000, 4)
    y = y - np.vectorize(PROV_EFFECT.get)(x[:, PROV_INDEX])
    chosen = _stepwise(np.delete(x, AREA_COLUMNS, axis=1), y, np.ones(len(y)), 0.001, 30)
    assert set(chosen[:2]) == {0, 1}
    assert len(chosen) <= 4


def test_ols_gives_every_area_a_shrunken_effect_and_adds_up() -> None:
    x, y = _design(3000, 5)
    model = StepwiseOLS().fit(x, y, np.ones(len(y)))
    prov, kab = model.areas_.levels[:2]
    assert set(prov.codes) == {31.0, 32.0, 33.0}  # no household minimum: every province has its effect
    assert len(kab.codes) == 24
    assert prov.sigma2_u > 0
    assert kab.sigma2_u > 0
    # the province effects are recovered (relative to 31) ...
    diff = {p: prov.lookup(np.array([p]))[0] - prov.lookup(np.array([31.0]))[0] for p in (32.0, 33.0)}
    assert abs(diff[32.0] - 0.3) < 0.1
    assert abs(diff[33.0] + 0.4) < 0.1
    # ... and a rare kab is pulled towards its province more than a common one
    resid = y - model.predict(x) + model.areas_.levels[1].lookup(x[:, KAB_INDEX])
    for rare, common in ((3108.0, 3101.0), (3208.0, 3201.0)):
        raw = {k: resid[x[:, KAB_INDEX] == k].mean() for k in (rare, common)}
        fitted = {k: kab.lookup(np.array([k]))[0] for k in (rare, common)}
        assert abs(fitted[rare]) / abs(raw[rare]) < abs(fitted[common]) / abs(raw[common]) < 1
    x_test, y_test = _design(2000, 6)
    pred = model.predict(x_test)
    assert np.sqrt(np.mean((pred - y_test) ** 2)) < 0.32
    no_areas = StepwiseOLS().fit(np.where(np.isin(np.arange(x.shape[1]), AREA_COLUMNS), 1.0, x), y)
    assert np.sqrt(np.mean((no_areas.predict(x_test) - y_test) ** 2)) > 0.36  # the areas matter here
    np.testing.assert_allclose(model.contributions(x_test).sum(axis=1), pred)
    # an unknown kab is scored at its province's effect, an unknown province at the national mean
    unseen = x_test[:3].copy()
    unseen[:, KAB_INDEX] = 3199.0
    np.testing.assert_allclose(model.contributions(unseen)[:, KAB_INDEX], 0.0)
    np.testing.assert_allclose(model.contributions(unseen)[:, PROV_INDEX], prov.lookup(unseen[:, PROV_INDEX]))
    with_nan = x_test.copy()
    with_nan[:5, 0] = np.nan  # imputed with the training mean
    assert np.isfinite(model.predict(with_nan)).all()
    np.testing.assert_allclose(StepwiseOLS.from_dict(model.to_dict()).predict(x_test), pred)


def test_ols_never_gives_an_owned_asset_a_negative_effect() -> None:
    """Owning a boat lowers consumption in this sample (fishing families are poorer): an unconstrained OLS
    would say so; the baseline keeps the boat out instead, and every signed coefficient has its sign."""
    x, y = _design(3000, 7)
    boat = FEATURE_NAMES.index("aset_perahu")
    x[:, boat] = (np.random.default_rng(7).random(3000) < 0.2).astype(float)
    y = y - 0.25 * x[:, boat]
    free = _stepwise(np.delete(x, AREA_COLUMNS, axis=1), y, np.ones(len(y)), 0.05, None)
    assert boat - sum(boat > a for a in AREA_COLUMNS) in free  # the unconstrained search takes it
    model = StepwiseOLS().fit(x, y)
    assert "aset_perahu" not in model.selected_
    signs = np.array([FEATURES[i].sign for i in range(len(FEATURES))])
    assert (model.coef_ * signs >= 0).all()


# -- conformal intervals ---------------------------------------------------------------------------------
def test_conformal_interval_matches_mapie_and_covers_eighty_percent() -> None:
    x, y = _design(8000, 9)  # calibration 2000 rows: the realised coverage varies by about 1 pt
    model = StepwiseOLS().fit(x[:2000], y[:2000], np.ones(2000))
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
