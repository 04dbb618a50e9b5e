"""Train the welfare models on a survey: split, cross-validate, fit every candidate, calibrate, choose, save.

The survey households are split once (seeded): 25% held out for the comparison every report quotes,
the rest 80/20 into training and conformal calibration. Every model in :data:`CANDIDATES` is trained on
the same rows and compared on the same held-out rows at equal coverage. ``cv`` = K adds K-fold
cross-validation on all households with the same folds for every candidate (per-fold metrics and their
spread go to ``metrics.json`` and the report); the stored candidate with the lowest mean exclusion error
at 40% coverage (or, without CV, the lowest held-out one) ranks families, and all are kept and reported.
A reference model (plain OLS with every area effect) is compared on the same rows but never stored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from sklearn.model_selection import KFold

from dtsen.engine import local_engine
from dtsen.logs import get_logger
from dtsen.welfare import metrics, registry
from dtsen.welfare.baseline import StepwiseOLS
from dtsen.welfare.challenger import GRID, QUANTILE_ALPHA, BoostedPMT, tune
from dtsen.welfare.features import ADMIN_FEATURES, FEATURE_NAMES, FEATURES, build_features
from dtsen.welfare.intervals import LEVEL, conformalize, placement
from dtsen.welfare.reference import FixedEffectsOLS
from dtsen.welfare.survey import Survey, SurveyConfig, load_survey

log = get_logger(__name__)
DESIL_QUANTILES = np.arange(1, 10) / 10
#: Usable survey households below which no model is trained (``dtsen synth`` derives its minimum size
#: from it).
MIN_SURVEY_HOUSEHOLDS = 50


@dataclass
class Matrix:
    """The survey as model input: features, target (log per-capita consumption) and weights.

    ``x`` holds the built-in :data:`FEATURES` first (area codes in their ``area`` columns), then the
    survey config's own numeric features (``extra``, sign 0) as trailing columns.
    """

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray  # persons (survey weight x household size) or households (survey weight)
    groups: dict[str, np.ndarray]  # subgroup labels for the audit
    extra: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (*FEATURE_NAMES, *self.extra)


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


def feature_matrix(features: pl.DataFrame, extra: tuple[str, ...] = ()) -> np.ndarray:
    return features.select(pl.col(n).cast(pl.Float64) for n in (*FEATURE_NAMES, *extra)).to_numpy()


ADMIN_COLUMNS = np.array([name in ADMIN_FEATURES for name in FEATURE_NAMES])


def admin_view(x: np.ndarray) -> np.ndarray:
    """``x`` with every feature a field survey alone observes set to missing: the administrative model is
    trained and applied on this view, so it can never split on what an unsurveyed family lacks."""
    out = np.array(x[:, : len(FEATURE_NAMES)], dtype=float, copy=True)  # never a survey's own features
    out[:, ~ADMIN_COLUMNS] = np.nan
    return out


def survey_matrix(survey: Survey) -> Matrix:
    """Features of the survey households through the same builder the registry uses (on the driver:
    the survey is a few thousand households already in memory)."""
    engine = local_engine()
    extra = survey.config.feature_names
    # the survey's own household-size column is the size (a household-level survey has no member rows)
    households = engine.memtable(
        survey.households.with_columns(jumlah_anggota=pl.col("jumlah_art").cast(pl.Int32)).to_arrow()
    )
    members = engine.memtable(survey.members.to_arrow())
    built = build_features(
        households,
        members,
        key="id_keluarga",
        extra=extra,
        size_column=True,
        bps_codes=survey.config.households.region_codes == "bps",
    )
    features = pl.from_arrow(engine.to_pyarrow(built))
    assert isinstance(features, pl.DataFrame)
    joined = features.join(
        survey.households.select("id_keluarga", "pengeluaran_per_kapita", "penimbang", "jumlah_art"),
        on="id_keluarga",
        how="inner",
        maintain_order="left",
    )
    weight = joined["penimbang"].cast(pl.Float64)
    if survey.weighting == "persons":
        weight = weight * joined["jumlah_art"].cast(pl.Float64)
    return Matrix(
        ids=joined["id_keluarga"].to_numpy(),
        x=feature_matrix(joined, extra),
        y=np.log(joined["pengeluaran_per_kapita"].cast(pl.Float64).to_numpy()),
        weight=weight.to_numpy(),
        groups=audit_groups(joined),
        extra=extra,
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


def global_importance(model: Any, x: np.ndarray, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Mean |contribution| per feature on the held-out rows: exact TreeSHAP for the challenger (LightGBM's
    own ``pred_contrib``; the shap package computes the same values but takes 10-20 s just to import),
    |coefficient x deviation| for the baseline. A survey's own features (``extra``) form group ``survei``."""
    values = model.contributions(x)[:, :-1]
    mean_abs = np.abs(values).mean(axis=0)
    names = (*FEATURE_NAMES, *extra)
    groups = (*(f.group for f in FEATURES), *("survei" for _ in extra))
    return [
        {"fitur": names[i], "kelompok": groups[i], "rata_abs_kontribusi": float(mean_abs[i])}
        for i in np.argsort(-mean_abs)
    ]


@dataclass
class FitData:
    """The rows a candidate is fitted on, and what every LightGBM candidate shares: hyper-parameters
    tuned by K-fold CV on these rows alone (computed once, on first use)."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    seed: int
    grid: dict[str, list[Any]]
    folds: int
    # tuning per column count, shared by every view of the same rows (see :meth:`view`)
    cache: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def tuned(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        width = self.x.shape[1]
        if width not in self.cache:
            self.cache[width] = tune(
                self.x, self.y, self.weight, grid=self.grid, folds=self.folds, seed=self.seed
            )
        return self.cache[width]

    def view(self, candidate: Candidate) -> FitData:
        """The same rows with the columns ``candidate`` takes (tuning is shared, not repeated)."""
        return replace(self, x=candidate.view(self.x))

    @property
    def params(self) -> dict[str, Any]:
        return self.tuned[0]


@dataclass(frozen=True)
class Candidate:
    """A model that competes: ``fit`` returns a fitted estimator (``predict``, ``contributions``).

    ``stored``: saved in the version and eligible to rank families; a reference (False) is only
    compared. ``extra``: the estimator takes the survey config's own numeric features as trailing
    columns after :data:`FEATURES` (otherwise it sees the built-in features only).
    """

    name: str
    fit: Callable[[FitData], Any]
    stored: bool = True
    extra: bool = False

    def view(self, x: np.ndarray) -> np.ndarray:
        return x if self.extra else x[:, : len(FEATURE_NAMES)]


REFERENCE = "ols_efek_wilayah"  # plain OLS with a fixed effect for every area (reference.py)
AREA_INDEX = tuple(i for i, f in sorted(enumerate(FEATURES), key=lambda p: p[1].area) if f.area)


def _fit_reference(d: FitData) -> FixedEffectsOLS:
    return FixedEffectsOLS(area_columns=AREA_INDEX).fit(d.x, d.y, d.weight)


# Every model the comparison runs, on the same rows: the first stored one that is best wins (ties go to the
# simpler model, listed first). A new model is one more entry here.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate(registry.BASELINE, lambda d: StepwiseOLS().fit(d.x, d.y, d.weight), extra=True),
    Candidate(
        registry.CHALLENGER,
        lambda d: BoostedPMT(**d.params, seed=d.seed, threads=1).fit(d.x, d.y, d.weight),
        extra=True,
    ),
    Candidate(
        registry.QUANTILE,
        lambda d: BoostedPMT(**d.params, seed=d.seed, threads=1, alpha=QUANTILE_ALPHA).fit(
            d.x, d.y, d.weight
        ),
        extra=True,
    ),
    Candidate(REFERENCE, _fit_reference, stored=False, extra=True),
)


def _rows_digest(ids: np.ndarray) -> str:
    return hashlib.sha256("\n".join(sorted(str(i) for i in ids)).encode()).hexdigest()


def cross_validate(
    m: Matrix,
    k: int,
    seed: int,
    grid: dict[str, list[Any]],
    folds: int,
    candidates: tuple[Candidate, ...] | None = None,
) -> dict[str, Any]:
    """K-fold cross-validation of every candidate on the **same** folds (seeded): per fold, each model is
    fitted on the other folds (LightGBM's hyper-parameters tuned inside them) and scored on this one.
    Returns per-fold metrics, their spread, and a digest of each fold's held-out households per model,
    so anyone can check the models were compared on the same rows."""
    if k < 2 or k > len(m.y):
        raise ValueError(f"--cv needs 2 <= K <= {len(m.y)} (the usable households), got {k}")
    candidates = CANDIDATES if candidates is None else candidates
    splits = list(KFold(k, shuffle=True, random_state=seed).split(m.x))
    per_model: dict[str, list[dict[str, Any]]] = {c.name: [] for c in candidates}
    for number, (fit_rows, test_rows) in enumerate(splits):
        shared = FitData(m.x[fit_rows], m.y[fit_rows], m.weight[fit_rows], seed, grid, folds)
        for c in candidates:
            start = time.perf_counter()
            model = c.fit(shared.view(c))
            pred = model.predict(c.view(m.x[test_rows]))
            summary = metrics.summary(m.y[test_rows], pred, m.weight[test_rows])
            per_model[c.name].append(
                {
                    "fold": number,
                    **{key: summary[key] for key in (*metrics.HEADLINE, "r2", "n")},
                    "rows_sha256": _rows_digest(m.ids[test_rows]),
                    "seconds": round(time.perf_counter() - start, 2),
                }
            )
        log.info("cv fold done", fold=number, of=k)
    return {
        "k": k,
        "seed": seed,
        "households": len(m.y),
        "fold_households": [len(t) for _, t in splits],
        "models": {
            c.name: {
                "stored": c.stored,
                "folds": per_model[c.name],
                "spread": metrics.spread(per_model[c.name]),
            }
            for c in candidates
        },
    }


def train(
    survey_dir: Path,
    config: SurveyConfig,
    data_dir: Path | None = None,
    seed: int = 0,
    grid: dict[str, list[Any]] | None = None,
    folds: int = 3,
    test_share: float = 0.25,
    calib_share: float = 0.2,
    cv: int = 0,
) -> registry.WelfareModel:
    """Train the models on the survey under ``survey_dir`` and save a new version; returns it.

    Every :data:`CANDIDATES` model is fitted on the same training rows and compared on the same held-out
    rows; with ``cv`` = K also by K-fold cross-validation on all households (same folds for every model),
    and then the stored candidate with the lowest mean cross-validated exclusion error at 40% coverage
    ranks surveyed families (else the lowest held-out one). The administrative model (the challenger's
    settings on :func:`admin_view`) ranks families no field survey visited but administrative registers
    know, with its own, wider conformal intervals.
    """
    start = time.perf_counter()
    survey = load_survey(survey_dir, config)
    m = survey_matrix(survey)
    if len(m.y) < MIN_SURVEY_HOUSEHOLDS:
        raise ValueError(
            f"survey under {survey_dir} has {len(m.y)} usable households; "
            f"at least {MIN_SURVEY_HOUSEHOLDS} are needed"
        )
    grid = grid or GRID
    tr, cal, te = split(len(m.y), seed, test_share, calib_share)
    log.info("survey loaded", households=len(m.y), train=len(tr), calibration=len(cal), test=len(te))
    cv_doc = cross_validate(m, cv, seed, grid, folds) if cv else None
    shared = FitData(m.x[tr], m.y[tr], m.weight[tr], seed, grid, folds)
    by_name = {c.name: c for c in CANDIDATES}
    best, tuning = shared.view(by_name[registry.CHALLENGER]).tuned  # the grid search the report shows
    fitted = {c.name: c.fit(shared.view(c)) for c in CANDIDATES}
    admin = BoostedPMT(**best, seed=seed, threads=1).fit(admin_view(m.x[tr]), m.y[tr], m.weight[tr])
    stored = [c.name for c in CANDIDATES if c.stored]
    models = {name: fitted[name] for name in stored} | {registry.ADMIN: admin}
    views = {c.name: c.view for c in CANDIDATES} | {registry.ADMIN: admin_view}
    cutoffs = metrics.weighted_quantiles(m.y, m.weight, DESIL_QUANTILES)
    conformal, held_out, audits, importance = {}, {}, {}, {}
    poor = metrics.bottom_share(m.y[te], m.weight[te], 0.4)
    for name, model in (models | {c.name: fitted[c.name] for c in CANDIDATES if not c.stored}).items():
        view = views[name]
        x_te = view(m.x[te])
        pred = model.predict(x_te)
        if name not in models:  # a reference: compared, never calibrated, stored or explained
            held_out[name] = metrics.summary(m.y[te], pred, m.weight[te])
            continue
        conformal[name] = conformalize(model, view(m.x[cal]), m.y[cal], LEVEL)
        lower, upper, p4, _p5, border = placement(pred, conformal[name], cutoffs[3], cutoffs[4])
        held_out[name] = metrics.summary(m.y[te], pred, m.weight[te], lower, upper)
        held_out[name]["borderline_share"] = float(border.mean())
        held_out[name]["brier_desil_le4"] = float(np.mean((p4 - poor) ** 2))
        audits[name] = metrics.subgroup_audit(
            m.y[te], pred, m.weight[te], {k: v[te] for k, v in m.groups.items()}
        )
        importance[name] = global_importance(model, x_te, m.extra[: x_te.shape[1] - len(FEATURE_NAMES)])
    ee = {k: v["exclusion_error_40"] for k, v in held_out.items()}
    if cv_doc is not None:
        judged = {k: cv_doc["models"][k]["spread"]["exclusion_error_40"]["mean"] for k in stored}
    else:
        judged = {k: ee[k] for k in stored}
    chosen = min(stored, key=lambda k: (round(judged[k], 9), stored.index(k)))
    improvement = 1 - ee[registry.CHALLENGER] / ee[registry.BASELINE] if ee[registry.BASELINE] else 0.0
    metrics_doc = {
        "held_out": held_out,
        "subgroups": audits,
        "importance": importance,
        "cv_grid": tuning,
        "cv": cv_doc,
        "chosen_by": "cv_exclusion_error_40" if cv_doc is not None else "held_out_exclusion_error_40",
        "relative_improvement_exclusion_40": improvement,
        "baseline_regions": fitted[registry.BASELINE].describe(),
    }
    manifest = {
        "chosen": chosen,
        "survey": {
            "name": config.name,
            "dir": str(survey_dir),
            "files": [str(f) for f in survey.files],
            "weighting": config.weighting,
            "region_codes": config.households.region_codes,
        },
        "features": list(m.names),
        "extra_features": list(m.extra),
        "extra_models": [name for name in models if name in by_name and by_name[name].extra],
        "monotone": [f.sign for f in FEATURES] + [0] * len(m.extra),
        "cutoffs": cutoffs.tolist(),
        "interval_level": LEVEL,
        "challenger_params": best,
        "split": {"seed": seed, "train": len(tr), "calibration": len(cal), "test": len(te)},
        "cv_folds": cv or None,
        "headline": {
            "exclusion_error_40": ee[chosen],
            "baseline_exclusion_error_40": ee[registry.BASELINE],
            "challenger_exclusion_error_40": ee[registry.CHALLENGER],
            "quantile_exclusion_error_40": ee.get(registry.QUANTILE),
            "reference_exclusion_error_40": ee.get(REFERENCE),
            "administrative_exclusion_error_40": ee[registry.ADMIN],
            "administrative_interval_coverage": held_out[registry.ADMIN].get("interval_coverage"),
            "relative_improvement": improvement,
            "interval_coverage": held_out[chosen].get("interval_coverage"),
            **(
                {f"cv_{k}": v["spread"]["exclusion_error_40"] for k, v in cv_doc["models"].items()}
                if cv_doc is not None
                else {}
            ),
        },
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    config_yaml = yaml.safe_dump(config.model_dump(by_alias=True), allow_unicode=True, sort_keys=False)
    path = registry.save(data_dir, survey.data_hash, manifest, models, conformal, metrics_doc, config_yaml)
    log.info("welfare model saved", version=path.name, chosen=chosen, exclusion_error_40=round(ee[chosen], 4))
    return registry.load(path)
