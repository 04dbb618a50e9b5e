"""Small-area effects with shrinkage: every level of the region hierarchy (province, kab/kota, deeper
when the survey has it) gets an empirical-Bayes random effect, so a small area is neither ignored (the
old stepwise cap and "200 households per province" rule) nor trusted on a handful of households.

Levels are fitted coarsest first, each on what the coarser levels left: for level l with area g,

    effect_g = n_g / (n_g + sigma2_e / sigma2_u) x (weighted mean residual in g - overall mean),

with n_g the households of g in the sample, sigma2_e the pooled within-area variance and sigma2_u the
between-area variance (the ANOVA / method-of-moments estimator of the one-way random-effects model;
0 when areas differ no more than sampling noise explains, and then every effect is 0). An area the
survey never saw gets 0 at that level, i.e. it is scored at its parent's estimate (or the national
mean). This is the closed form of a random-intercept mixed model with the variances plugged in.

Area codes are numeric feature columns (:attr:`dtsen.welfare.features.Feature.area` = level); a code
must identify its area within the level on its own (BPS codes do: kab 3471 contains its province 34).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from dtsen.welfare.features import FEATURES

# feature columns holding area codes, coarsest level first
AREA_COLUMNS: tuple[int, ...] = tuple(
    i for i, _ in sorted(((i, f) for i, f in enumerate(FEATURES) if f.area), key=lambda p: p[1].area)
)
AREA_NAMES: tuple[str, ...] = tuple(FEATURES[i].name for i in AREA_COLUMNS)


@dataclass
class Level:
    """One level's fitted effects: sorted codes, their shrunken effects, and the variance components."""

    name: str
    codes: np.ndarray
    effects: np.ndarray
    households: np.ndarray
    sigma2_u: float
    sigma2_e: float

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """The effect of each code; 0 for an unknown or missing code (scored at the parent's level)."""
        out = np.zeros(len(codes))
        if len(self.codes) == 0:
            return out
        idx = np.clip(np.searchsorted(self.codes, codes), 0, len(self.codes) - 1)
        hit = self.codes[idx] == codes  # NaN never matches
        out[hit] = self.effects[idx[hit]]
        return out


@dataclass
class AreaEffects:
    """Effects of every level; :meth:`per_level` gives each row's effect at each level."""

    levels: list[Level] = field(default_factory=list)

    def per_level(self, codes: np.ndarray) -> np.ndarray:
        """Rows x levels: each row's effect at each level (deviation from its parent)."""
        codes = np.asarray(codes, dtype=float).reshape(len(codes), -1)
        out = np.zeros((len(codes), len(self.levels)))
        for k, level in enumerate(self.levels):
            out[:, k] = level.lookup(codes[:, k])
        return out

    def total(self, codes: np.ndarray) -> np.ndarray:
        return self.per_level(codes).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": [
                {
                    "name": lv.name,
                    "codes": lv.codes.tolist(),
                    "effects": lv.effects.tolist(),
                    "households": lv.households.tolist(),
                    "sigma2_u": lv.sigma2_u,
                    "sigma2_e": lv.sigma2_e,
                }
                for lv in self.levels
            ]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AreaEffects:
        return cls(
            [
                Level(
                    d["name"],
                    np.asarray(d["codes"], dtype=float),
                    np.asarray(d["effects"], dtype=float),
                    np.asarray(d["households"], dtype=np.int64),
                    float(d["sigma2_u"]),
                    float(d["sigma2_e"]),
                )
                for d in data["levels"]
            ]
        )

    def summary(self) -> list[dict[str, Any]]:
        """Per level: areas, variance components and how much a median-sized area is shrunk (report)."""
        out = []
        for lv in self.levels:
            ratio = lv.sigma2_e / lv.sigma2_u if lv.sigma2_u > 0 else float("inf")
            median_n = float(np.median(lv.households)) if len(lv.households) else 0.0
            out.append(
                {
                    "tingkat": lv.name,
                    "wilayah": len(lv.codes),
                    "sigma2_u": lv.sigma2_u,
                    "sigma2_e": lv.sigma2_e,
                    "median_rumah_tangga": median_n,
                    "bobot_median": median_n / (median_n + ratio) if np.isfinite(ratio) else 0.0,
                }
            )
        return out


def _level(name: str, codes: np.ndarray, resid: np.ndarray, weight: np.ndarray) -> Level:
    known = ~np.isnan(codes)
    c, r, w = codes[known], resid[known], weight[known]
    if len(c) == 0:
        return Level(name, np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), 0.0, 0.0)
    uniq, inv = np.unique(c, return_inverse=True)
    n_g = np.bincount(inv).astype(float)
    w_g = np.bincount(inv, weights=w)
    mu = float(np.average(r, weights=w))
    mean_g = np.bincount(inv, weights=w * r) / w_g
    n, g = len(r), len(uniq)
    # pooled within-area variance (weights normalised within area, so each household counts once)
    within = np.bincount(inv, weights=w * (r - mean_g[inv]) ** 2) / w_g
    sigma2_e = float((within * n_g).sum() / max(n - g, 1))
    # ANOVA estimator of the between-area variance for unbalanced groups
    n0 = (n - (n_g**2).sum() / n) / max(g - 1, 1)
    between = float((n_g * (mean_g - mu) ** 2).sum() / max(g - 1, 1))
    # no area with two households: within- and between-area variation cannot be told apart
    identified = g > 1 and n - g >= 2 and n0 > 0
    sigma2_u = max((between - sigma2_e) / n0, 0.0) if identified else 0.0
    shrink = n_g / (n_g + sigma2_e / sigma2_u) if sigma2_u > 0 else np.zeros(g)
    return Level(name, uniq, shrink * (mean_g - mu), n_g.astype(np.int64), sigma2_u, sigma2_e)


def fit_effects(codes: np.ndarray, resid: np.ndarray, weight: np.ndarray) -> AreaEffects:
    """Empirical-Bayes effects of every level (columns of ``codes``, coarsest first) on ``resid``."""
    codes = np.asarray(codes, dtype=float).reshape(len(resid), -1)
    left = np.asarray(resid, dtype=float).copy()
    weight = np.asarray(weight, dtype=float)
    levels = []
    for k in range(codes.shape[1]):
        name = AREA_NAMES[k] if k < len(AREA_NAMES) else f"tingkat_{k + 1}"
        level = _level(name, codes[:, k], left, weight)
        left -= level.lookup(codes[:, k])
        levels.append(level)
    return AreaEffects(levels)


def out_of_fold_encoding(
    codes: np.ndarray, y: np.ndarray, weight: np.ndarray, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Rows x levels: the shrunken mean of ``y`` in the row's area at each level (cumulative: the kab
    column holds province + kab effect), each row encoded by effects fitted on the *other* folds, so a
    tree cannot learn a household's own outcome through its area's mean (target leakage)."""
    codes = np.asarray(codes, dtype=float).reshape(len(y), -1)
    out = np.empty(codes.shape)
    for fit_rows, enc_rows in KFold(folds, shuffle=True, random_state=seed).split(codes):
        mu = float(np.average(y[fit_rows], weights=weight[fit_rows]))
        effects = fit_effects(codes[fit_rows], y[fit_rows] - mu, weight[fit_rows])
        out[enc_rows] = mu + np.cumsum(effects.per_level(codes[enc_rows]), axis=1)
    return out
