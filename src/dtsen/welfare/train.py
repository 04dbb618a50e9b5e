"""Train the welfare models on a survey: split, fit baseline and challenger, calibrate, evaluate, save.

The survey households are split once (seeded): 25% held out for the comparison every report quotes,
the rest 80/20 into training and conformal calibration. Both models are trained on the same rows and
compared on the same held-out rows at equal coverage; the one with the lower held-out exclusion error
at 40% coverage is chosen for scoring, and both are kept and reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from dtsen.engine import get_engine
from dtsen.logs import get_logger
from dtsen.welfare import metrics, registry
from dtsen.welfare.baseline import StepwiseOLS
from dtsen.welfare.challenger import GRID, BoostedPMT, tune
from dtsen.welfare.features import ADMIN_FEATURES, FEATURE_NAMES, FEATURES, build_features
from dtsen.welfare.intervals import LEVEL, conformalize, placement
from dtsen.welfare.survey import Survey, SurveyConfig, load_survey

log = get_logger(__name__)
DESIL_QUANTILES = np.arange(1, 10) / 10


@dataclass
class Matrix:
    """The survey as model input: features, target (log per-capita consumption) and person weights."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray  # persons represented: survey weight x household size
    groups: dict[str, np.ndarray]  # subgroup labels for the audit


def audit_groups(features: pl.DataFrame) -> dict[str, np.ndarray]:
    """Subgroups the fairness audit reports: province, urban/rural, sex and age of head, disability."""
    return {
        "provinsi": features["kode_prov"].fill_null("??").to_numpy(),
        "perkotaan": np.where(features["perkotaan"].fill_null(0).to_numpy() > 0, "perkotaan", "perdesaan"),
        "jenis_kelamin_kepala": np.where(
            features["kepala_perempuan"].fill_null(0).to_numpy() > 0, "perempuan", "laki-laki"
        ),
        "kepala_lansia": np.where(features["kepala_lansia"].fill_null(0).to_numpy() > 0, "ya", "tidak"),
        "ada_disabilitas": np.where(features["ada_disabilitas"].fill_null(0).to_numpy() > 0, "ya", "tidak"),
    }


def feature_matrix(features: pl.DataFrame) -> np.ndarray:
    return features.select(pl.col(n).cast(pl.Float64) for n in FEATURE_NAMES).to_numpy()


ADMIN_COLUMNS = np.array([name in ADMIN_FEATURES for name in FEATURE_NAMES])


def admin_view(x: np.ndarray) -> np.ndarray:
    """``x`` with every feature a field survey alone observes set to missing: the administrative model is
    trained and applied on this view, so it can never split on what an unsurveyed family lacks."""
    out = np.array(x, dtype=float, copy=True)
    out[:, ~ADMIN_COLUMNS] = np.nan
    return out


def survey_matrix(survey: Survey) -> Matrix:
    """Features of the survey households through the same builder the registry uses (DuckDB)."""
    engine = get_engine("duckdb")
    households = engine.memtable(survey.households.to_arrow())
    members = engine.memtable(survey.members.to_arrow())
    features = pl.from_arrow(engine.to_pyarrow(build_features(households, members, key="id_keluarga")))
    assert isinstance(features, pl.DataFrame)
    joined = features.join(
        survey.households.select("id_keluarga", "pengeluaran_per_kapita", "penimbang", "jumlah_art"),
        on="id_keluarga",
        how="inner",
        maintain_order="left",
    )
    return Matrix(
        ids=joined["id_keluarga"].to_numpy(),
        x=feature_matrix(joined),
        y=np.log(joined["pengeluaran_per_kapita"].cast(pl.Float64).to_numpy()),
        weight=(joined["penimbang"] * joined["jumlah_art"]).cast(pl.Float64).to_numpy(),
        groups=audit_groups(joined),
    )


def split(
    n: int, seed: int, test_share: float, calib_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices for training, calibration and held-out test."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_share)
    rest = order[n_test:]
    n_cal = round(len(rest) * calib_share)
    return np.sort(rest[n_cal:]), np.sort(rest[:n_cal]), np.sort(order[:n_test])


def global_importance(model: Any, x: np.ndarray) -> list[dict[str, Any]]:
    """Mean |contribution| per feature on the held-out rows: exact TreeSHAP for the challenger (LightGBM's
    own ``pred_contrib``; the shap package computes the same values but takes 10-20 s just to import),
    |coefficient x deviation| for the baseline."""
    values = model.contributions(x)[:, :-1]
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(-mean_abs)
    return [
        {"fitur": FEATURE_NAMES[i], "kelompok": FEATURES[i].group, "rata_abs_kontribusi": float(mean_abs[i])}
        for i in order
    ]


def train(
    survey_dir: Path,
    config: SurveyConfig,
    data_dir: Path | None = None,
    seed: int = 0,
    grid: dict[str, list[Any]] | None = None,
    folds: int = 3,
    test_share: float = 0.25,
    calib_share: float = 0.2,
    min_obs: int = 200,
) -> registry.WelfareModel:
    """Train the models on the survey under ``survey_dir`` and save a new version; returns it.

    Baseline and challenger compete on held-out households and the better one ranks surveyed families;
    the administrative model (the challenger's settings on :func:`admin_view`) ranks families no field
    survey visited but administrative registers know, with its own, wider conformal intervals.
    """
    start = time.perf_counter()
    survey = load_survey(survey_dir, config)
    m = survey_matrix(survey)
    if len(m.y) < 50:
        raise ValueError(
            f"survey under {survey_dir} has {len(m.y)} usable households; at least 50 are needed"
        )
    tr, cal, te = split(len(m.y), seed, test_share, calib_share)
    log.info("survey loaded", households=len(m.y), train=len(tr), calibration=len(cal), test=len(te))
    baseline = StepwiseOLS(min_obs=min_obs).fit(m.x[tr], m.y[tr], m.weight[tr])
    best, cv = tune(m.x[tr], m.y[tr], m.weight[tr], grid=grid or GRID, folds=folds, seed=seed)
    challenger = BoostedPMT(**best, seed=seed, threads=1).fit(m.x[tr], m.y[tr], m.weight[tr])
    admin = BoostedPMT(**best, seed=seed, threads=1).fit(admin_view(m.x[tr]), m.y[tr], m.weight[tr])
    models = {registry.BASELINE: baseline, registry.CHALLENGER: challenger, registry.ADMIN: admin}
    views = {registry.ADMIN: admin_view}
    cutoffs = metrics.weighted_quantiles(m.y, m.weight, DESIL_QUANTILES)
    conformal, held_out, audits, importance = {}, {}, {}, {}
    for name, model in models.items():
        view = views.get(name, np.asarray)
        x_cal, x_te = view(m.x[cal]), view(m.x[te])
        conformal[name] = conformalize(model, x_cal, m.y[cal], LEVEL)
        pred = model.predict(x_te)
        lower, upper, p4, _p5, border = placement(pred, conformal[name], cutoffs[3], cutoffs[4])
        held_out[name] = metrics.summary(m.y[te], pred, m.weight[te], lower, upper)
        held_out[name]["borderline_share"] = float(border.mean())
        poor = metrics.bottom_share(m.y[te], m.weight[te], 0.4)
        held_out[name]["brier_desil_le4"] = float(np.mean((p4 - poor) ** 2))
        audits[name] = metrics.subgroup_audit(
            m.y[te], pred, m.weight[te], {k: v[te] for k, v in m.groups.items()}
        )
        importance[name] = global_importance(model, x_te)
    ee = {k: held_out[k]["exclusion_error_40"] for k in models}
    chosen = registry.CHALLENGER if ee[registry.CHALLENGER] < ee[registry.BASELINE] else registry.BASELINE
    improvement = 1 - ee[registry.CHALLENGER] / ee[registry.BASELINE] if ee[registry.BASELINE] else 0.0
    metrics_doc = {
        "held_out": held_out,
        "subgroups": audits,
        "importance": importance,
        "cv_grid": cv,
        "relative_improvement_exclusion_40": improvement,
        "baseline_regions": {
            k: {"n_obs": v["n_obs"], "selected": v["selected"]} for k, v in baseline.models_.items()
        },
    }
    manifest = {
        "chosen": chosen,
        "survey": {"name": config.name, "dir": str(survey_dir), "files": [str(f) for f in survey.files]},
        "features": list(FEATURE_NAMES),
        "monotone": [f.sign for f in FEATURES],
        "cutoffs": cutoffs.tolist(),
        "interval_level": LEVEL,
        "challenger_params": best,
        "split": {"seed": seed, "train": len(tr), "calibration": len(cal), "test": len(te)},
        "baseline_min_obs": min_obs,
        "headline": {
            "exclusion_error_40": ee[chosen],
            "baseline_exclusion_error_40": ee[registry.BASELINE],
            "challenger_exclusion_error_40": ee[registry.CHALLENGER],
            "administrative_exclusion_error_40": ee[registry.ADMIN],
            "administrative_interval_coverage": held_out[registry.ADMIN].get("interval_coverage"),
            "relative_improvement": improvement,
            "interval_coverage": held_out[chosen].get("interval_coverage"),
        },
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    path = registry.save(
        data_dir, survey.data_hash, manifest, baseline, challenger, conformal, metrics_doc,
        yaml.safe_dump(config.model_dump(by_alias=True), allow_unicode=True, sort_keys=False), admin=admin,
    )  # fmt: skip
    log.info("welfare model saved", version=path.name, chosen=chosen, exclusion_error_40=round(ee[chosen], 4))
    return registry.load(path)
