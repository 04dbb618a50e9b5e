"""The World Bank proxy means test with small-area effects: forward-stepwise weighted OLS on log
per-capita consumption, plus an empirical-Bayes random effect for every level of the region hierarchy
(province, kab/kota, deeper when the survey has it; :mod:`dtsen.welfare.areas`).

Earlier versions fitted one model per province with at least 200 households and let province dummies
compete in a stepwise search capped at 30 variables: on a real survey with ~200 small areas only ~25
area effects ever entered and small areas got none. Now the area effects are not selected at all: every
area gets its shrunken effect, and the household variables are chosen by stepwise selection (p <
``p_enter``, no cap unless ``max_vars`` is set) net of them. Fixed and random parts are fitted by
backfitting (area effects on the OLS residual, OLS on consumption net of the area effects), which
converges to the random-intercept mixed model with its variances estimated by moments.

**Sign constraints.** A feature with a monotone sign (:data:`dtsen.welfare.features.FEATURES`: owning
more, better housing, more education) may not enter with the opposite sign: an OLS that says "owning a
boat lowers your estimate" (collinearity, or the boat standing in for fishing as an occupation) gives a
family a reason it cannot accept. Such a variable is not admitted, or dropped if a later variable flips
it. Missing values are imputed with the weighted training mean, as PMT implementations do.

The class follows scikit-learn's estimator protocol so MAPIE can conformalize it like the challenger.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from threadpoolctl import threadpool_limits

from dtsen.welfare.areas import AREA_COLUMNS, AreaEffects, fit_effects
from dtsen.welfare.features import FEATURES

SIGNS = np.array([f.sign for f in FEATURES], dtype=float)


def column_name(j: int) -> str:
    """A column's name: the feature's, or ``ekstra_N`` for a survey config's own trailing feature."""
    return FEATURES[j].name if j < len(FEATURES) else f"ekstra_{j - len(FEATURES)}"


def _stepwise(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    p_enter: float,
    max_vars: int | None,
    signs: np.ndarray | None = None,
) -> list[int]:
    """Columns of ``x`` chosen by forward selection on weighted least squares (smallest p-value first);
    a column with a nonzero entry in ``signs`` is admissible only while its partial effect has that sign.

    Each step residualises y and every candidate on the chosen set once (one QR), so the t-statistic of
    adding candidate j is its partial regression on those residuals: no refit per candidate.
    """
    n = x.shape[0]
    signs = np.zeros(x.shape[1]) if signs is None else signs
    limit = x.shape[1] if max_vars is None else max_vars
    sw = np.sqrt(w / w.mean())
    xw, yw = x * sw[:, None], y * sw
    chosen: list[int] = []
    usable = x.std(axis=0) > 1e-12
    while len(chosen) < limit:
        basis = np.column_stack([sw, xw[:, chosen]]) if chosen else sw[:, None]
        q, _ = np.linalg.qr(basis)
        ry = yw - q @ (q.T @ yw)
        rx = xw - q @ (q.T @ xw)
        denom = np.einsum("ij,ij->j", rx, rx)
        ok = usable & (denom > 1e-9 * np.maximum(np.einsum("ij,ij->j", xw, xw), 1e-12))
        ok[chosen] = False
        df = n - basis.shape[1] - 1
        if not ok.any() or df < 5:
            break
        b = np.where(ok, (rx.T @ ry) / np.where(ok, denom, 1.0), 0.0)
        ok &= b * signs >= 0
        rss = np.maximum(ry @ ry - b**2 * denom, 1e-12)
        t = np.abs(b) / np.sqrt(rss / df / np.where(ok, denom, 1.0))
        pvalues = np.where(ok, 2 * stats.t.sf(t, df), 1.0)
        best = int(np.argmin(pvalues))
        if pvalues[best] >= p_enter:
            break
        chosen.append(best)
    return chosen


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Intercept then coefficients of weighted least squares."""
    sw = np.sqrt(w / w.mean())
    design = np.column_stack([np.ones(len(y)), x]) * sw[:, None]
    coef, *_ = np.linalg.lstsq(design, y * sw, rcond=None)
    return coef


def _signed_wls(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, chosen: list[int], signs: np.ndarray
) -> tuple[list[int], np.ndarray]:
    """WLS on ``chosen``, dropping (one at a time, the worst first) any signed column whose joint
    coefficient came out with the wrong sign; returns the kept columns and their coefficients."""
    chosen = list(chosen)
    while True:
        coef = _wls(x[:, chosen], y, w)
        wrong = coef[1:] * signs[chosen] * x[:, chosen].std(axis=0)
        if not len(chosen) or wrong.min() >= 0:
            return chosen, coef
        del chosen[int(np.argmin(wrong))]


class StepwiseOLS(RegressorMixin, BaseEstimator):
    """Stepwise WLS over the household features plus shrunken effects of every area level; input columns
    = FEATURES (the area-code columns are read as codes, never as numbers)."""

    def __init__(self, p_enter: float = 0.05, max_vars: int | None = None, iterations: int = 4) -> None:
        self.p_enter = p_enter
        self.max_vars = max_vars
        self.iterations = iterations

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> StepwiseOLS:
        with threadpool_limits(1):  # small dense algebra: BLAS threads only contend
            return self._fit(x, y, sample_weight)

    def _fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> StepwiseOLS:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        filled = ~np.isnan(x)
        self.means_ = np.array(
            [
                np.average(x[filled[:, j], j], weights=w[filled[:, j]]) if filled[:, j].any() else 0.0
                for j in range(x.shape[1])
            ]
        )
        self.n_features_in_ = x.shape[1]  # scikit-learn's 'is fitted' marker (MAPIE checks it)
        # every column but the area codes (a survey's own trailing features are unsigned candidates)
        candidates = [j for j in range(x.shape[1]) if j not in AREA_COLUMNS]
        xc = np.where(filled, x, self.means_)[:, candidates]
        codes = x[:, list(AREA_COLUMNS)]
        signs = np.concatenate([SIGNS, np.zeros(max(x.shape[1] - len(SIGNS), 0))])[candidates]
        fitted = np.full(len(y), np.average(y, weights=w))
        chosen: list[int] = []
        coef = np.array([fitted[0]])
        for _ in range(max(self.iterations, 1)):
            self.areas_ = fit_effects(codes, y - fitted, w)
            net = y - self.areas_.total(codes)
            chosen = _stepwise(xc, net, w, self.p_enter, self.max_vars, signs)
            chosen, coef = _signed_wls(xc, net, w, chosen, signs)
            fitted = coef[0] + xc[:, chosen] @ coef[1:]
        beta = np.zeros(len(self.means_))
        beta[[candidates[c] for c in chosen]] = coef[1:]
        self.intercept_ = float(coef[0])
        self.coef_ = beta
        self.selected_ = [column_name(candidates[c]) for c in chosen]
        return self

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-row contribution of every feature (coefficient x deviation from the training mean), each
        area level's effect in its code column, and the base value in the last column; rows sum to the
        prediction."""
        x = np.asarray(x, dtype=float)
        xi = np.where(np.isnan(x), self.means_, x)
        out = np.zeros((len(x), x.shape[1] + 1))
        out[:, :-1] = (xi - self.means_) * self.coef_
        out[:, list(AREA_COLUMNS)] = self.areas_.per_level(x[:, list(AREA_COLUMNS)])
        out[:, -1] = self.intercept_ + float(self.means_ @ self.coef_)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.contributions(x).sum(axis=1)

    def describe(self) -> dict[str, Any]:
        """What the report shows: the selected variables with coefficients and the area-effect levels."""
        return {
            "selected": {
                column_name(j): float(b) for j, b in enumerate(self.coef_) if column_name(j) in self.selected_
            },
            "areas": self.areas_.summary(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.get_params(),
            "means": self.means_.tolist(),
            "intercept": self.intercept_,
            "coef": self.coef_.tolist(),
            "selected": self.selected_,
            "areas": self.areas_.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepwiseOLS:
        if "models" in data:
            raise ValueError(
                "this baseline was saved by the per-province OLS (before area effects); retrain the model "
                "version with dtsen welfare train"
            )
        model = cls(**data["params"])
        model.means_ = np.asarray(data["means"], dtype=float)
        model.intercept_ = float(data["intercept"])
        model.coef_ = np.asarray(data["coef"], dtype=float)
        model.selected_ = list(data["selected"])
        model.areas_ = AreaEffects.from_dict(data["areas"])
        model.n_features_in_ = len(model.means_)
        return model
