"""Fitting the welfare model's free constants to public targets, once, and shipping the result.

Province intercepts are solved so each province's person-weighted poverty rate equals the BPS figure;
the noise scale is bisected to reach the national Gini; decile cut-offs of log consumption are stored so
that chunks generated independently share one national ranking. ``dtsen synth calibrate`` recomputes
``calibration.json`` after the model changes; generation only reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from dtsen.synth.params import POVERTY_LINE, PROVINCE_POVERTY_RATE, SynthParams

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    province_alpha: dict[str, float]
    noise_sd: float
    lnc_mean: float
    lnc_sd: float
    decile_cuts: list[float]  # 9 national cut-offs of log per-capita consumption (person-weighted)
    pilot_persons: int = 0
    pilot_seed: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def neutral(noise_sd: float = 0.0) -> Calibration:
    """Intercepts of zero: what the pilot run generates from."""
    return Calibration(
        province_alpha=dict.fromkeys(PROVINCE_POVERTY_RATE, 0.0),
        noise_sd=noise_sd,
        lnc_mean=14.1,
        lnc_sd=0.62,
        decile_cuts=list(np.linspace(13.3, 14.9, 9)),
    )


def load() -> Calibration:
    path = resources.files("dtsen.synth").joinpath(CALIBRATION_FILE)
    data = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(**data)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float | np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cum, v)


def gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted Gini (persons as weights) via the Lorenz curve."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cw = np.cumsum(w) / w.sum()
    cv = np.cumsum(v * w) / (v * w).sum()
    prev_cw = np.r_[0.0, cw[:-1]]
    prev_cv = np.r_[0.0, cv[:-1]]
    return float(1.0 - np.sum((cw - prev_cw) * (cv + prev_cv)))


def fit(
    struct: np.ndarray, prov: np.ndarray, weights: np.ndarray, eps: np.ndarray, gini_target: float
) -> tuple[dict[str, float], float]:
    """Province intercepts and noise scale such that poverty rates and the Gini hit their targets."""
    ln_pl = float(np.log(POVERTY_LINE))
    provinces = sorted(set(prov.tolist()))

    def alphas_for(sd: float) -> tuple[dict[str, float], np.ndarray]:
        base = struct + sd * eps
        alpha: dict[str, float] = {}
        shifted = np.empty_like(base)
        for p in provinces:
            m = prov == p
            target = PROVINCE_POVERTY_RATE[p] / 100.0
            alpha[p] = ln_pl - float(weighted_quantile(base[m], weights[m], target))
            shifted[m] = base[m] + alpha[p]
        return alpha, shifted

    lo, hi = 0.05, 1.2
    for _ in range(30):
        mid = (lo + hi) / 2
        _, lnc = alphas_for(mid)
        if gini(np.exp(lnc), weights) < gini_target:
            lo = mid
        else:
            hi = mid
    sd = (lo + hi) / 2
    alpha, _ = alphas_for(sd)
    return alpha, sd


def calibrate(
    persons: int = 800_000, seed: int = 20250301, params: SynthParams | None = None, out: Path | None = None
) -> Calibration:
    """Run a national pilot with zero intercepts and no noise, then fit and (optionally) save."""
    from dtsen.synth.generate import pilot_population

    params = params or SynthParams()
    fams = pilot_population(persons, seed, params, neutral(0.0))
    struct = fams["log_consumption"]
    prov = np.array([k[:2] for k in fams["kode_desa"]])
    weights = fams["size"].astype(float)
    eps = np.random.default_rng(seed + 1).standard_normal(len(struct))
    alpha, sd = fit(struct, prov, weights, eps, params.welfare.gini_target)
    lnc = struct + sd * eps + np.array([alpha[p] for p in prov])
    mean = float(np.average(lnc, weights=weights))
    std = float(np.sqrt(np.average((lnc - mean) ** 2, weights=weights)))
    cuts = weighted_quantile(lnc, weights, np.arange(1, 10) / 10.0)
    # every province must have an intercept, also those a small pilot might miss
    for p in PROVINCE_POVERTY_RATE:
        alpha.setdefault(p, float(np.mean(list(alpha.values()))))
    result = Calibration(
        province_alpha={k: round(v, 6) for k, v in sorted(alpha.items())},
        noise_sd=round(sd, 6),
        lnc_mean=round(mean, 6),
        lnc_sd=round(std, 6),
        decile_cuts=[round(float(c), 6) for c in cuts],
        pilot_persons=persons,
        pilot_seed=seed,
    )
    if out is not None:
        out.write_text(result.to_json() + "\n", encoding="utf-8")
    return result
