"""Targeting accuracy and fairness, as the literature defines it, so numbers compare with published ones.

At coverage c a program selects the predicted bottom c of the population and the target group is the
*true* bottom c (Coady, Grosh and Hoddinott 2004; Brown, Ravallion and van de Walle 2018; McBride and
Nichols 2018): exclusion error = target units not selected / target units; inclusion error = selected
units outside the target / selected units. Target and selection are the same size, so EE and IE at the
same c differ only by the half-row rounding of :func:`bottom_share`. Every measure is weighted by what
the survey config says the program counts (persons: survey weight x household size; or households).
Also: targeting differential (coverage of the target group - coverage of everyone else), CGH (share of
an equal benefit reaching the target group / target share), Spearman rank correlation and the area under
the targeting curve (share of the true bottom 40% reached as coverage goes 0 -> 100%).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5)
TARGET_SHARE = 0.4
# what cross-validation keeps per fold and summarises over folds (:func:`spread`)
HEADLINE = (
    "exclusion_error_20",
    "exclusion_error_40",
    "inclusion_error_40",
    "spearman",
    "auc_targeting_curve",
)


def bottom_share(values: np.ndarray, weight: np.ndarray, share: float) -> np.ndarray:
    """Rows in the lowest ``share`` of total weight (ties broken by position: deterministic); a row is in
    when the midpoint of its weight falls below the cut, so the selected weight is within half a row of
    ``share``."""
    order = np.lexsort((np.arange(len(values)), values))
    w = weight[order]
    mid = np.cumsum(w) - w / 2
    out = np.zeros(len(values), dtype=bool)
    out[order] = mid < share * w.sum()
    return out


def weighted_quantiles(values: np.ndarray, weight: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Population quantiles of ``values`` with ``weight`` persons per row."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weight[order]
    cum = (np.cumsum(w) - w / 2) / w.sum()
    return np.interp(qs, cum, v)


def targeting(
    truth: np.ndarray, score: np.ndarray, weight: np.ndarray, coverage: float, target: float | None = None
) -> dict[str, float]:
    """Exclusion and inclusion error, targeting differential and CGH at one coverage; the target group is
    the true bottom ``coverage`` (the standard definition) unless another ``target`` share is given."""
    target = coverage if target is None else target
    poor = bottom_share(truth, weight, target)
    chosen = bottom_share(score, weight, coverage)
    wp, wc = weight[poor].sum(), weight[chosen].sum()
    hit = weight[poor & chosen].sum()
    nonpoor = weight[~poor].sum()
    return {
        "coverage": coverage,
        "exclusion_error": float(1 - hit / wp) if wp else float("nan"),
        "inclusion_error": float(1 - hit / wc) if wc else float("nan"),
        "targeting_differential": float(hit / wp - weight[~poor & chosen].sum() / nonpoor)
        if wp and nonpoor
        else 0.0,
        "cgh": float((hit / wc) / target) if wc else float("nan"),
    }


def targeting_curve_auc(
    truth: np.ndarray, score: np.ndarray, weight: np.ndarray, target: float = TARGET_SHARE
) -> float:
    """Area under the share of the target group reached as coverage goes 0 -> 100% (random 0.5, perfect
    1 - target/2)."""
    poor = bottom_share(truth, weight, target)
    order = np.lexsort((np.arange(len(score)), score))
    w = weight[order]
    x = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    y = np.concatenate([[0.0], np.cumsum(w * poor[order]) / max((w * poor[order]).sum(), 1e-12)])
    return float(np.trapezoid(y, x))


def spearman(truth: np.ndarray, score: np.ndarray) -> float:
    return float(stats.spearmanr(truth, score).statistic)


def summary(
    truth: np.ndarray,
    score: np.ndarray,
    weight: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    target: float = TARGET_SHARE,
) -> dict[str, Any]:
    """Every headline measure: targeting at each coverage (target = true bottom c), Spearman, AUC of the
    targeting curve for the true bottom ``target``, R2 and interval coverage."""
    rows = [targeting(truth, score, weight, c) for c in COVERAGES]
    resid = truth - score
    out: dict[str, Any] = {
        "n": len(truth),
        "persons": float(weight.sum()),
        "by_coverage": rows,
        "exclusion_error_40": next(r["exclusion_error"] for r in rows if r["coverage"] == 0.4),
        "inclusion_error_40": next(r["inclusion_error"] for r in rows if r["coverage"] == 0.4),
        "exclusion_error_20": next(r["exclusion_error"] for r in rows if r["coverage"] == 0.2),
        "spearman": spearman(truth, score),
        "auc_targeting_curve": targeting_curve_auc(truth, score, weight, target),
        "r2": float(
            1
            - np.average(resid**2, weights=weight)
            / np.average((truth - np.average(truth, weights=weight)) ** 2, weights=weight)
        ),
        "rmse": float(np.sqrt(np.average(resid**2, weights=weight))),
    }
    if lower is not None and upper is not None:
        inside = (truth >= lower) & (truth <= upper)
        out["interval_coverage"] = float(inside.mean())
        out["interval_coverage_persons"] = float(np.average(inside, weights=weight))
    return out


def subgroup_audit(
    truth: np.ndarray,
    score: np.ndarray,
    weight: np.ndarray,
    groups: dict[str, np.ndarray],
    coverage: float = TARGET_SHARE,
    target: float = TARGET_SHARE,
    min_persons: float = 0.0,
) -> list[dict[str, Any]]:
    """Per subgroup: persons, need (share of its persons in the target group), selection share at the
    national cut, exclusion error within it and parity = selection / need (1 = selected as often as
    needed; below 1 the group is under-served)."""
    poor = bottom_share(truth, weight, target)
    chosen = bottom_share(score, weight, coverage)
    out = []
    for dimension, values in groups.items():
        labels = np.asarray(values).astype(str)
        for label in np.unique(labels):
            rows = labels == label
            w = weight[rows]
            if w.sum() <= min_persons:
                continue
            need = float(w[poor[rows]].sum() / w.sum())
            sel = float(w[chosen[rows]].sum() / w.sum())
            wp = w[poor[rows]].sum()
            out.append(
                {
                    "dimensi": dimension,
                    "kelompok": str(label),
                    "persons": float(w.sum()),
                    "families": int(rows.sum()),
                    "need": need,
                    "selected": sel,
                    "parity": sel / need if need else float("nan"),
                    "exclusion_error": float(1 - w[poor[rows] & chosen[rows]].sum() / wp)
                    if wp
                    else float("nan"),
                }
            )
    return out


def spread(folds: list[dict[str, Any]], keys: tuple[str, ...] = HEADLINE) -> dict[str, dict[str, float]]:
    """Mean, standard deviation (ddof 1), min and max of each headline measure over cross-validation folds:
    the spread says whether a difference between models is larger than the fold-to-fold noise."""
    out = {}
    for key in keys:
        values = np.array([f[key] for f in folds if f.get(key) is not None], dtype=float)
        if len(values) == 0:
            continue
        out[key] = {
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return out
