"""The World Bank proxy means test as practised in Indonesia: forward-stepwise weighted OLS on log
per-capita consumption, one model per province (BDT/P3KE fitted one per district; the survey rarely has
enough households per district for that, so the province is the unit here).

A province with fewer than ``min_obs`` training households has no model of its own: it is scored by
the pooled national model, which may also select province dummies. Missing values are imputed with the
weighted training mean, as PMT implementations do. Variables enter while the best candidate's p-value
is below ``p_enter`` (the classic 5%), at most ``max_vars`` of them.

The class follows scikit-learn's estimator protocol so MAPIE can conformalize it like the challenger.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from threadpoolctl import threadpool_limits

from dtsen.welfare.features import FEATURES

NATIONAL = "nasional"
PROV_INDEX = [f.name for f in FEATURES].index("prov")


def _stepwise(x: np.ndarray, y: np.ndarray, w: np.ndarray, p_enter: float, max_vars: int) -> list[int]:
    """Columns of ``x`` chosen by forward selection on weighted least squares (smallest p-value first).

    Each step residualises y and every candidate on the chosen set once (one QR), so the t-statistic of
    adding candidate j is its partial regression on those residuals: no refit per candidate.
    """
    n = x.shape[0]
    sw = np.sqrt(w / w.mean())
    xw, yw = x * sw[:, None], y * sw
    chosen: list[int] = []
    usable = x.std(axis=0) > 1e-12
    while len(chosen) < max_vars:
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


class StepwiseOLS(RegressorMixin, BaseEstimator):
    """Per-province forward-stepwise WLS with a pooled national fallback; input columns = FEATURES."""

    def __init__(self, min_obs: int = 200, p_enter: float = 0.05, max_vars: int = 30) -> None:
        self.min_obs = min_obs
        self.p_enter = p_enter
        self.max_vars = max_vars

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> StepwiseOLS:
        with threadpool_limits(1):  # small dense algebra: BLAS threads only contend
            return self._fit(x, y, sample_weight)

    def _fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> StepwiseOLS:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        candidates = [i for i in range(x.shape[1]) if i != PROV_INDEX]
        filled = ~np.isnan(x)
        self.means_ = np.array(
            [np.average(x[filled[:, j], j], weights=w[filled[:, j]]) if filled[:, j].any() else 0.0
             for j in range(x.shape[1])]
        )  # fmt: skip
        self.n_features_in_ = x.shape[1]  # scikit-learn's 'is fitted' marker (MAPIE checks it)
        xi = np.where(filled, x, self.means_)
        prov = xi[:, PROV_INDEX]
        self.provinces_ = sorted(float(p) for p in np.unique(prov))
        self.models_: dict[str, dict[str, Any]] = {}
        others = self.provinces_[1:]  # the first province is the reference category
        dummies = (
            np.column_stack([prov == p for p in others]).astype(float) if others else np.zeros((len(y), 0))
        )
        pooled = np.column_stack([xi[:, candidates], dummies])
        self.models_[NATIONAL] = self._fit_one(pooled, y, w, candidates, n_obs=len(y))
        for p in self.provinces_:
            rows = prov == p
            if rows.sum() >= self.min_obs:
                self.models_[f"{int(p):02d}"] = self._fit_one(
                    xi[rows][:, candidates], y[rows], w[rows], candidates, n_obs=int(rows.sum())
                )
        return self

    def _fit_one(
        self, x: np.ndarray, y: np.ndarray, w: np.ndarray, candidates: list[int], n_obs: int
    ) -> dict[str, Any]:
        chosen = _stepwise(x, y, w, self.p_enter, self.max_vars)
        coef = _wls(x[:, chosen], y, w)
        feature_cols = [candidates[c] for c in chosen if c < len(candidates)]
        beta = np.zeros(len(self.means_))
        province_effects: dict[str, float] = {}
        for c, b in zip(chosen, coef[1:], strict=True):
            if c < len(candidates):
                beta[candidates[c]] = b
            else:
                province_effects[f"{int(self.provinces_[1 + c - len(candidates)]):02d}"] = float(b)
        return {
            "intercept": float(coef[0]),
            "coef": beta.tolist(),
            "province_effects": province_effects,
            "selected": [FEATURES[i].name for i in feature_cols]
            + sorted(f"prov_{k}" for k in province_effects),
            "n_obs": n_obs,
        }

    def region_of(self, prov: np.ndarray) -> np.ndarray:
        """Which fitted model scores each row: its province's own, else the national one."""
        keys = np.array([f"{int(p):02d}" if not np.isnan(p) else NATIONAL for p in prov], dtype=object)
        own = np.isin(keys, [k for k in self.models_ if k != NATIONAL])
        return np.where(own, keys, NATIONAL)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-row contribution of every feature (coefficient x deviation from the training mean), the
        province effect in the ``prov`` column, and the base value in the last column; rows sum to the
        prediction."""
        x = np.asarray(x, dtype=float)
        xi = np.where(np.isnan(x), self.means_, x)
        out = np.zeros((len(x), x.shape[1] + 1))
        regions = self.region_of(x[:, PROV_INDEX])
        for key, model in self.models_.items():
            rows = regions == key
            if not rows.any():
                continue
            beta = np.asarray(model["coef"])
            out[rows, :-1] = (xi[rows] - self.means_) * beta
            effects = model["province_effects"]
            if effects:
                codes = np.array([f"{int(p):02d}" for p in xi[rows, PROV_INDEX]])
                out[rows, PROV_INDEX] = np.array([effects.get(c, 0.0) for c in codes])
            out[rows, -1] = model["intercept"] + float(self.means_ @ beta)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.contributions(x).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.get_params(),
            "means": self.means_.tolist(),
            "provinces": self.provinces_,
            "models": self.models_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepwiseOLS:
        model = cls(**data["params"])
        model.means_ = np.asarray(data["means"], dtype=float)
        model.provinces_ = list(data["provinces"])
        model.models_ = data["models"]
        model.n_features_in_ = len(model.means_)
        return model
