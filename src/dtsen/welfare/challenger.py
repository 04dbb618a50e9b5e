"""The challengers: gradient boosting (LightGBM) on log per-capita consumption, with shrunken small-area
effects and monotone constraints where economics demands them (more assets or better housing never
lowers the estimate; see :data:`dtsen.welfare.features.FEATURES`).

**Areas.** Every level of the region hierarchy enters as an out-of-fold target encoding with
empirical-Bayes shrinkage (:mod:`dtsen.welfare.areas`): the province column becomes the shrunken mean
consumption of the province, the kab/kota column the province's plus the kab/kota's shrunken effect, and
so on down. Training rows are encoded by effects fitted on the other folds (a tree could otherwise learn
a household's own outcome through its area mean); scoring uses the effects of the whole training sample,
and an area the survey never saw takes its parent's value. The encoded columns are monotone (+1): a
richer area never lowers the estimate. A raw categorical province (the earlier design) gave 193 small
areas a split only when a leaf held ``min_data_per_group`` of their households.

**Quantile variant.** With ``alpha`` set the booster fits the conditional ``alpha`` quantile (pinball
loss) instead of the mean, a rank-oriented model in the spirit of McBride & Nichols (2018): around the
targeting cut-off it weighs errors on both sides as the cut-off does. A constant ``offset_`` (the
weighted median of its training residuals) recentres the estimate on the median so the rupiah estimate
is not biased low; a constant changes no rank.

Hyper-parameters are chosen by K-fold cross-validation on a **targeting** measure (exclusion error of
the target group at equal coverage, 40%), not on R2: a model can fit the rich well and still rank the
poor badly, and only the ranking of the poor matters for who gets a program.
"""

from __future__ import annotations

import itertools
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold

from dtsen.welfare import metrics
from dtsen.welfare.areas import AREA_COLUMNS, AreaEffects, fit_effects, out_of_fold_encoding
from dtsen.welfare.features import FEATURES

AREAS = list(AREA_COLUMNS)
# area codes become encoded means (numeric, monotone); nothing else is categorical
CATEGORICAL = [i for i, f in enumerate(FEATURES) if f.categorical and not f.area]
MONOTONE = [1 if f.area else f.sign for f in FEATURES]
QUANTILE_ALPHA = 0.4  # the usual targeting cut-off (desil 1-4)
# small on purpose: survey samples are thousands of households, and every point costs K fits
GRID: dict[str, list[Any]] = {
    "num_leaves": [7, 15],
    "min_child_samples": [20, 60],
    "n_estimators": [200, 400],
}
FIXED: dict[str, Any] = {
    "learning_rate": 0.05,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "reg_lambda": 1.0,
    "cat_smooth": 20,
    "min_data_per_group": 30,
    # "basic": the stricter "intermediate"/"advanced" methods fit 4-15x slower for no gain measured here
    "monotone_constraints_method": "basic",
}


class BoostedPMT(RegressorMixin, BaseEstimator):
    """LightGBM regressor over the FEATURES matrix; deterministic for a given ``seed``.

    Training uses one thread: survey samples are small, and OpenMP threads on a busy machine made a
    fit 40x slower here; scoring millions of families uses ``threads`` (0 = every core). ``alpha``:
    fit the conditional ``alpha`` quantile instead of the mean.
    """

    def __init__(
        self,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        n_estimators: int = 400,
        seed: int = 0,
        threads: int = 0,
        alpha: float | None = None,
        encode_folds: int = 5,
    ) -> None:
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_estimators = n_estimators
        self.seed = seed
        self.threads = threads
        self.alpha = alpha
        self.encode_folds = encode_folds

    def _pinball(self, pred: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and (unit) hessian of the pinball loss at ``alpha``, weighted: LightGBM's own
        ``quantile`` objective refuses monotone constraints, a custom objective does not."""
        y = data.get_label()
        w = data.get_weight()
        grad = np.where(y < pred, 1.0 - self.alpha, -self.alpha)
        hess = np.ones(len(y))
        return (grad, hess) if w is None else (grad * w, hess * w)

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "regression" if self.alpha is None else self._pinball,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "monotone_constraints": MONOTONE + [0] * (self.n_features_in_ - len(MONOTONE)),
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.threads,
            "verbose": -1,
            **{
                k: v for k, v in FIXED.items() if k not in {"subsample", "subsample_freq", "colsample_bytree"}
            },
            "bagging_fraction": FIXED["subsample"],
            "bagging_freq": FIXED["subsample_freq"],
            "feature_fraction": FIXED["colsample_bytree"],
        }

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> BoostedPMT:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        codes = x[:, AREAS]
        self.area_mean_ = float(np.average(y, weights=w))
        self.areas_ = fit_effects(codes, y - self.area_mean_, w)
        encoded = x.copy()
        encoded[:, AREAS] = out_of_fold_encoding(codes, y, w, self.encode_folds, self.seed)
        # a custom objective starts from 0, not from the mean: start it at the weighted alpha-quantile
        start = 0.0 if self.alpha is None else _weighted_quantile(y, w, self.alpha)
        self.n_features_in_ = x.shape[1]  # scikit-learn's 'is fitted' marker (MAPIE checks it)
        init = np.full(len(y), start) if self.alpha is not None else None
        data = lgb.Dataset(
            encoded,
            label=y,
            weight=sample_weight,
            categorical_feature=CATEGORICAL,
            init_score=init,
            free_raw_data=True,
        )
        self.booster_ = lgb.train(self._params(), data, num_boost_round=self.n_estimators)
        self.offset_ = start
        if self.alpha is not None:  # recentre on the median: a constant moves no rank
            resid = y - self.predict(x)
            self.offset_ += _weighted_quantile(resid, w, 0.5)
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``x`` with each area-code column replaced by its level's shrunken cumulative mean."""
        out = np.array(x, dtype=float, copy=True)
        out[:, AREAS] = self.area_mean_ + np.cumsum(self.areas_.per_level(out[:, AREAS]), axis=1)
        return out

    def predict(self, x: np.ndarray, num_iteration: int | None = None) -> np.ndarray:
        """The estimate; ``num_iteration``: of the first that many trees only (what a fit with
        ``n_estimators`` = that many predicts, since later rounds never change earlier trees)."""
        return (
            self.booster_.predict(self.encode(x), num_iteration=num_iteration, num_threads=self.threads)
            + self.offset_
        )

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP values (LightGBM's native ``pred_contrib``): one column per feature, then the
        base value; rows sum to the prediction. About 1 ms per family here: for global importance and
        for one family's appeal, not for ranking millions (see :meth:`path_contributions`)."""
        out = self.booster_.predict(self.encode(x), pred_contrib=True, num_threads=self.threads)
        out[:, -1] += self.offset_
        return out

    def path_contributions(self, x: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
        """Per-group path attribution (Saabas): along the path to the leaf a family reaches in each tree,
        every split credits its feature's group with the change in the node value. Additive (rows sum to
        the prediction; base value in the last column) and exactly as cheap as predicting, because a
        family's attribution depends only on the leaves it reaches: a sparse leaf-indicator matrix
        times a per-leaf table. Unlike TreeSHAP it is not Shapley-fair between correlated features."""
        table, base = self._leaf_table(groups, n_groups)
        leaves = self.booster_.predict(self.encode(x), pred_leaf=True, num_threads=self.threads)
        leaves = np.asarray(leaves, dtype=np.int64).reshape(len(x), -1) + self._leaf_offsets
        n, t = leaves.shape
        onehot = sparse.csr_matrix(
            (np.ones(n * t), leaves.ravel(), np.arange(0, n * t + 1, t)), shape=(n, table.shape[0])
        )
        return np.column_stack([onehot @ table, np.full(n, base + self.offset_)])

    def _leaf_table(self, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, float]:
        key = (n_groups, groups.tobytes())
        cached = getattr(self, "_table_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        trees = self.booster_.dump_model()["tree_info"]
        offsets = np.cumsum([0] + [tr["num_leaves"] for tr in trees])
        table = np.zeros((offsets[-1], n_groups))
        base = 0.0
        for k, tree in enumerate(trees):
            root = tree["tree_structure"]
            if "leaf_index" in root:  # a stump
                base += root["leaf_value"]
                continue
            base += root["internal_value"]
            stack = [(root, np.zeros(n_groups))]
            while stack:
                node, credit = stack.pop()
                for side in ("left_child", "right_child"):
                    child = node[side]
                    value = child["leaf_value"] if "leaf_index" in child else child["internal_value"]
                    step = credit.copy()
                    step[groups[node["split_feature"]]] += value - node["internal_value"]
                    if "leaf_index" in child:
                        table[offsets[k] + child["leaf_index"]] = step
                    else:
                        stack.append((child, step))
        self._leaf_offsets = offsets[:-1]
        self._table_cache = (key, table, base)
        return table, base

    def to_string(self) -> str:
        return self.booster_.model_to_string()

    def state(self) -> dict[str, Any]:
        """What the booster text does not hold: the area encoding and the quantile offset (JSON)."""
        return {
            "area_mean": self.area_mean_,
            "areas": self.areas_.to_dict(),
            "offset": self.offset_,
        }

    @classmethod
    def from_string(cls, text: str, params: dict[str, Any], state: dict[str, Any]) -> BoostedPMT:
        model = cls(**params)
        model.booster_ = lgb.Booster(model_str=text)
        model.n_features_in_ = model.booster_.num_feature()
        model.area_mean_ = float(state["area_mean"])
        model.areas_ = AreaEffects.from_dict(state["areas"])
        model.offset_ = float(state["offset"])
        return model


def _weighted_quantile(values: np.ndarray, weight: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weight[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(values) - 1)])


def tune(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    grid: dict[str, list[Any]] | None = None,
    folds: int = 3,
    seed: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid point with the lowest cross-validated exclusion error at 40% coverage (ties: higher
    Spearman), and every point's scores for the report.

    Points that differ only in ``n_estimators`` share one fit per fold with the most trees, predicted
    with each point's first ``n_estimators`` trees: boosting rounds never change earlier trees (same
    seed, same bagging draws), so this is the smaller fit's prediction exactly, at a third less work.
    """
    grid = grid or GRID
    keys = sorted(grid)
    splits = list(KFold(folds, shuffle=True, random_state=seed).split(x))
    points = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]
    preds: dict[int, np.ndarray] = {}
    shared: dict[tuple[Any, ...], list[int]] = {}
    for i, params in enumerate(points):
        shared.setdefault(tuple((k, v) for k, v in params.items() if k != "n_estimators"), []).append(i)
    for members in shared.values():
        rounds = [points[i].get("n_estimators", BoostedPMT().n_estimators) for i in members]
        widest = points[members[int(np.argmax(rounds))]]
        for i in members:
            preds[i] = np.empty(len(y))
        for train, test in splits:
            model = BoostedPMT(**widest, seed=seed, threads=1).fit(x[train], y[train], weight[train])
            for i, n in zip(members, rounds, strict=True):
                preds[i][test] = model.predict(x[test], num_iteration=n)
    results = []
    for i, params in enumerate(points):
        pred = preds[i]
        ee = metrics.targeting(y, pred, weight, 0.4)["exclusion_error"]
        results.append({**params, "cv_exclusion_error_40": ee, "cv_spearman": metrics.spearman(y, pred)})
    best = min(results, key=lambda r: (round(r["cv_exclusion_error_40"], 6), -r["cv_spearman"]))
    return {k: best[k] for k in keys}, results
