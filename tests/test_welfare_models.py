"""The welfare models on designed data: empirical-Bayes area effects, out-of-fold area encoding, the
LightGBM challengers (mean and 40% quantile) and the calibration of every candidate's 80% interval."""

from __future__ import annotations

import numpy as np
import pytest

from dtsen.welfare.areas import AREA_COLUMNS, fit_effects, out_of_fold_encoding
from dtsen.welfare.baseline import StepwiseOLS
from dtsen.welfare.challenger import BoostedPMT
from dtsen.welfare.features import FEATURE_NAMES, FEATURES
from dtsen.welfare.intervals import conformalize, placement

PROV, KAB = AREA_COLUMNS[:2]
ASSET = FEATURE_NAMES.index("aset_lemari_es")


def _survey(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Households in 4 provinces x 12 kab (kab effects sd 0.25, 4 rare kab), a threshold and an
    interaction, heteroscedastic noise: a design where areas and non-linearity both matter."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURE_NAMES)))
    x[:, ASSET] = (rng.random(n) < 0.4).astype(float)
    prov = rng.choice([11.0, 12.0, 13.0, 14.0], size=n)
    kab_probs = np.r_[np.full(8, 0.12), np.full(4, 0.01)]
    kab = prov * 100 + rng.choice(np.arange(1, 13), size=n, p=kab_probs / kab_probs.sum())
    x[:, PROV], x[:, KAB] = prov, kab
    x[:, list(AREA_COLUMNS[2:])] = np.nan
    effects = np.random.default_rng(1).normal(0, 0.25, size=(15, 13))
    area = effects[(prov - 0).astype(int) % 15, (kab % 100).astype(int)] + 0.2 * (prov - 12.5)
    y = (
        12.5
        + 0.4 * x[:, 0]
        + 0.3 * np.maximum(x[:, 1], 0)  # a threshold
        + 0.3 * x[:, ASSET] * (prov > 12)  # an asset worth more in two provinces
        + area
        + rng.normal(0, 1, n) * (0.25 + 0.1 * (x[:, 0] > 0))  # heteroscedastic
    )
    return x, y


def test_area_effects_shrink_small_areas_and_unknown_areas_take_their_parent() -> None:
    x, y = _survey(6000, 0)
    codes = x[:, [PROV, KAB]]
    effects = fit_effects(codes, y - y.mean(), np.ones(len(y)))
    prov, kab = effects.levels
    assert len(prov.codes) == 4
    assert len(kab.codes) == 48
    weights = kab.households / (kab.households + kab.sigma2_e / kab.sigma2_u)
    assert weights[kab.households < 30].max() < weights[kab.households > 100].min()
    unseen = np.array([[11.0, 1199.0], [99.0, 9901.0], [np.nan, np.nan]])
    per_level = effects.per_level(unseen)
    assert per_level[0, 0] == prov.lookup(np.array([11.0]))[0] != 0
    assert per_level[0, 1] == 0
    assert (per_level[1:] == 0).all()
    # a level where every area holds one household cannot separate area from household: no effects
    singletons = fit_effects(
        np.arange(500.0)[:, None], np.random.default_rng(2).normal(size=500), np.ones(500)
    )
    assert singletons.levels[0].sigma2_u == 0
    assert (singletons.levels[0].effects == 0).all()


def test_out_of_fold_encoding_never_sees_the_households_own_outcome() -> None:
    x, y = _survey(2000, 1)
    codes = x[:, [PROV, KAB]]
    w = np.ones(len(y))
    enc = out_of_fold_encoding(codes, y, w, folds=5, seed=3)
    changed = y.copy()
    changed[7] += 50.0  # a household's own outcome must not move its own encoding
    enc2 = out_of_fold_encoding(codes, changed, w, folds=5, seed=3)
    assert enc2[7] == pytest.approx(enc[7])
    assert not np.allclose(enc2, enc)  # ... it moves other folds' encodings of its area
    # the kab column is the cumulative (province + kab) estimate, close to the true area means
    assert np.corrcoef(enc[:, 1], y)[0, 1] > np.corrcoef(enc[:, 0], y)[0, 1]


@pytest.mark.parametrize("alpha", [None, 0.4])
def test_challenger_uses_area_effects_and_keeps_its_monotone_promises(alpha: float | None) -> None:
    x, y = _survey(4000, 2)
    x_test, y_test = _survey(3000, 3)
    model = BoostedPMT(n_estimators=150, num_leaves=7, seed=0, threads=1, alpha=alpha).fit(x, y)
    blind = x.copy()
    blind[:, [PROV, KAB]] = np.nan
    no_areas = BoostedPMT(n_estimators=150, num_leaves=7, seed=0, threads=1, alpha=alpha).fit(blind, y)
    blind_test = x_test.copy()
    blind_test[:, [PROV, KAB]] = np.nan
    pred, pred_blind = model.predict(x_test), no_areas.predict(blind_test)
    assert np.corrcoef(pred, y_test)[0, 1] > np.corrcoef(pred_blind, y_test)[0, 1] + 0.03
    # the quantile model is recentred on the median: half the households lie below its estimate
    assert abs((y_test < pred).mean() - 0.5) < 0.04
    for i, f in enumerate(FEATURES):
        if f.sign:
            bumped = x_test[:300].copy()
            bumped[:, i] += 1.0
            assert ((model.predict(bumped) - pred[:300]) * f.sign).min() >= -1e-9, f.name
    np.testing.assert_allclose(model.contributions(x_test[:50]).sum(axis=1), pred[:50], atol=1e-9)
    groups = np.array([0] * len(FEATURES))
    np.testing.assert_allclose(model.path_contributions(x_test[:50], groups, 1).sum(axis=1), pred[:50])
    again = BoostedPMT.from_string(model.to_string(), model.get_params(), model.state())
    np.testing.assert_allclose(again.predict(x_test), pred)


def test_quantile_objective_fits_the_forty_percent_quantile() -> None:
    x, y = _survey(4000, 4)
    model = BoostedPMT(n_estimators=200, num_leaves=7, seed=0, threads=1, alpha=0.4).fit(x, y)
    x_test, y_test = _survey(3000, 5)
    raw = model.booster_.predict(model.encode(x_test))
    below = (y_test < raw + np.quantile(y, 0.4)).mean()  # the booster starts at the 40% quantile
    assert abs(below - 0.4) < 0.05


@pytest.mark.parametrize("which", ["ols", "lightgbm", "kuantil"])
def test_every_candidates_80pct_interval_covers_77_to_83pct_of_held_out_households(which: str) -> None:
    x, y = _survey(10_000, 6)
    make = {
        "ols": lambda: StepwiseOLS(),
        "lightgbm": lambda: BoostedPMT(n_estimators=150, num_leaves=7, seed=0, threads=1),
        "kuantil": lambda: BoostedPMT(n_estimators=150, num_leaves=7, seed=0, threads=1, alpha=0.4),
    }
    model = make[which]().fit(x[:4000], y[:4000])
    conformal = conformalize(model, x[4000:6000], y[4000:6000], 0.8)
    lower, upper, *_ = placement(model.predict(x[6000:]), conformal, 12.0, 12.3)
    covered = ((y[6000:] >= lower) & (y[6000:] <= upper)).mean()
    assert 0.77 <= covered <= 0.83


def test_tuning_shares_one_fit_per_tree_count_and_scores_each_point_as_its_own_fit() -> None:
    """tune() fits the most trees once per fold and reads the fewer-tree points off its first trees: each
    point's cross-validated scores must equal those of a fit with exactly its own settings."""
    from sklearn.model_selection import KFold

    from dtsen.welfare import metrics
    from dtsen.welfare.challenger import tune

    x, y = _survey(900, 6)
    w = np.random.default_rng(7).uniform(0.5, 2.0, len(y))
    grid = {"num_leaves": [4, 7], "min_child_samples": [20], "n_estimators": [15, 40]}
    best, results = tune(x, y, w, grid=grid, folds=3, seed=0)
    assert [(r["num_leaves"], r["n_estimators"]) for r in results] == [(4, 15), (7, 15), (4, 40), (7, 40)]
    splits = list(KFold(3, shuffle=True, random_state=0).split(x))
    for r in results:
        params = {k: r[k] for k in grid}
        pred = np.empty(len(y))
        for train, test in splits:
            pred[test] = (
                BoostedPMT(**params, seed=0, threads=1).fit(x[train], y[train], w[train]).predict(x[test])
            )
        assert r["cv_exclusion_error_40"] == metrics.targeting(y, pred, w, 0.4)["exclusion_error"]
        assert r["cv_spearman"] == metrics.spearman(y, pred)
    assert best in [{k: r[k] for k in grid} for r in results]
