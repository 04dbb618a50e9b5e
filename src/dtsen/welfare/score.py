"""Score and rank every family of the registry: ``score_registry`` writes ``<out_dir>/scores.parquet``
exactly as docs/batch-plane.md (welfare section) describes.

Features are built by the engine (DuckDB or Spark) and written to a work file; the model runs on Arrow
batches of it in this process (LightGBM or the OLS coefficients, intervals, probabilities and
explanations); the ranking is again an engine query over the predictions. Everything is written inside
``out_dir`` under a work name and renamed into place at the end, so a failed run leaves the previous
``scores.parquet`` intact.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dtsen import atomic
from dtsen.config import get_settings
from dtsen.engine import get_engine
from dtsen.logs import get_logger
from dtsen.welfare import metrics, registry
from dtsen.welfare.explain import EXPLANATION_TYPE, GROUPS, explain, group_contributions, unobserved_groups
from dtsen.welfare.features import build_features
from dtsen.welfare.intervals import placement
from dtsen.welfare.rank import KEY, rank
from dtsen.welfare.rankable import ADMIN_MODEL, RANKED, REASONS, ranking_status
from dtsen.welfare.train import admin_view, feature_matrix

log = get_logger(__name__)
BATCH_ROWS = 100_000
SCORES = "scores.parquet"
PREDICTION_SCHEMA = pa.schema(
    [
        (KEY, pa.string()),
        ("kode_prov", pa.string()),
        ("kode_kab", pa.string()),
        ("jumlah_anggota", pa.int32()),
        ("skor", pa.float64()),
        ("perkiraan_pengeluaran", pa.int64()),
        ("batas_bawah", pa.int64()),
        ("batas_atas", pa.int64()),
        ("p_desil_le4", pa.float64()),
        ("p_desil_le5", pa.float64()),
        ("borderline", pa.bool_()),
        ("penjelasan", EXPLANATION_TYPE),
        ("status_peringkat", pa.string()),
        ("alasan_tidak_diperingkat", pa.string()),
        ("model_peringkat", pa.string()),
    ]
)
OUTPUT_COLUMNS = (
    KEY,
    "kode_prov",
    "kode_kab",
    "jumlah_anggota",
    "skor",
    "perkiraan_pengeluaran",
    "batas_bawah",
    "batas_atas",
    "peringkat",
    "desil_nasional",
    "desil_provinsi",
    "desil_kabkota",
    "p_desil_le4",
    "p_desil_le5",
    "borderline",
    "penjelasan",
    "status_peringkat",
    "alasan_tidak_diperingkat",
    "model_peringkat",
    "versi_model",
)
RANK_COLUMNS = {
    "peringkat": "int64",
    "desil_nasional": "int8",
    "desil_provinsi": "int8",
    "desil_kabkota": "int8",
}


class ScoringError(ValueError):
    pass


def _rupiah(log_value: np.ndarray) -> np.ndarray:
    return np.round(np.exp(log_value)).astype(np.int64)


def imputation_means(model: registry.WelfareModel) -> np.ndarray:
    """The survey's weighted mean of every feature: what an unobserved item is scored as (both models).

    LightGBM's own missing-value handling is not used: the survey has (almost) no missing items, so the
    trees never learn where a missing value belongs and LightGBM would score it as zero, which is exactly
    "unobserved = owns nothing". The baseline OLS stores these means and imputes them itself.
    """
    return np.asarray(model.models[registry.BASELINE].means_, dtype=float)


def predict_batch(model: registry.WelfareModel, features: pl.DataFrame, which: str | None = None) -> pa.Table:
    """Score, interval, probabilities, borderline flag, explanation and ranking status for a batch.

    Surveyed families are scored by the chosen (or ``which``) model; families known only from
    administrative registers by the administrative model on its view, with its own calibration; families
    that may not be ranked (:mod:`dtsen.welfare.rankable`) get no score, interval or probability, only
    their status, reason and one sentence saying why.
    """
    name = which or model.chosen
    x = feature_matrix(features)
    missing = np.isnan(x)
    x = np.where(missing, imputation_means(model), x)
    status, reason, used = ranking_status(features, admin_model=model.has_admin)
    ranked = status == RANKED
    by_admin = used == ADMIN_MODEL
    cuts = model.cutoffs
    n = len(x)
    pred, grouped = np.empty(n), np.empty((n, len(GROUPS)))
    lower, upper, p4, p5, border = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=bool)
    # each row through its own model only: rows are independent, so the main model need not see the
    # admin-only families whose values the admin model replaces
    views = [(~by_admin, name, x if not by_admin.any() else x[~by_admin])]
    if by_admin.any():
        x_admin = admin_view(x[by_admin])
        views.append((by_admin, registry.ADMIN, x_admin))
        missing[by_admin] |= np.isnan(x_admin)  # the admin model saw none of the survey items
    for rows, which_model, x_rows in views:
        if not len(x_rows):
            continue
        part_pred, part_grouped = group_contributions(model.models[which_model], x_rows)
        place = placement(part_pred, model.conformal[which_model], cuts[3], cuts[4])
        pred[rows], grouped[rows] = part_pred, part_grouped
        for whole, part in zip((lower, upper, p4, p5, border), place, strict=True):
            whole[rows] = part
    unranked_rows = np.flatnonzero(~ranked)
    codes = [str(reason[i]) for i in unranked_rows]
    instead = pl.DataFrame(
        {"_row": unranked_rows, "faktor": codes, "kalimat": [REASONS[c] for c in codes]},
        schema={"_row": pl.Int64, "faktor": pl.String, "kalimat": pl.String},
    )
    explanations = explain(grouped, features, unobserved=unobserved_groups(missing), instead=instead)

    def only_ranked(values: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
        return pa.array(values, type=arrow_type, mask=~ranked)

    return pa.table(
        {
            KEY: features[KEY].to_arrow(),
            "kode_prov": features["kode_prov"].to_arrow(),
            "kode_kab": features["kode_kab"].to_arrow(),
            "jumlah_anggota": features["jumlah_anggota"].cast(pl.Int32).to_arrow(),
            "skor": only_ranked(pred, pa.float64()),
            "perkiraan_pengeluaran": only_ranked(_rupiah(pred), pa.int64()),
            "batas_bawah": only_ranked(_rupiah(lower), pa.int64()),
            "batas_atas": only_ranked(_rupiah(upper), pa.int64()),
            "p_desil_le4": only_ranked(p4, pa.float64()),
            "p_desil_le5": only_ranked(p5, pa.float64()),
            "borderline": only_ranked(border, pa.bool_()),
            "penjelasan": explanations,
            "status_peringkat": pa.array(status, type=pa.string()),
            "alasan_tidak_diperingkat": pa.array(reason, type=pa.string()),
            "model_peringkat": pa.array(used, type=pa.string()),
        },
        schema=PREDICTION_SCHEMA,
    )


def _check_columns(path: Path, columns: list[str], needed: list[str], what: str) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ScoringError(f"{path}: the {what} table lacks column(s) {missing}")


def score_registry(
    families_path: Path | str,
    persons_path: Path | str,
    model: str | Path | registry.WelfareModel | None,
    out_dir: Path | str,
    engine: str | None = None,
    data_dir: Path | None = None,
    batch_rows: int = BATCH_ROWS,
    which: str | None = None,
) -> dict[str, Any]:
    """Score and rank all families; returns a summary (rows, seconds per stage, model version).

    ``families_path``: one row per family with ``id_keluarga_dtsen`` and canonical ``keluarga`` columns;
    ``persons_path``: one row per person with ``id_keluarga_dtsen`` and canonical ``anggota`` columns
    (``status_hidup`` False and ``keberadaan`` died/moved are not counted as members). ``which`` scores
    with a named model of the version instead of its chosen one (the report compares both).
    """
    families_path, persons_path, out_dir = Path(families_path), Path(persons_path), Path(out_dir)
    wm = model if isinstance(model, registry.WelfareModel) else registry.load(model, data_dir)
    if wm.manifest.get("extra_features"):
        raise ScoringError(
            f"model {wm.version} was trained with the survey's own features {wm.manifest['extra_features']}, "
            "which the registry does not have: it can score that survey (--survey), not the registry"
        )
    eng = get_engine(engine)
    threads = get_settings().threads
    for name in wm.models.values():
        if hasattr(name, "threads"):
            name.threads = threads
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / f".work-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        families = eng.read_parquet(families_path)
        persons = eng.read_parquet(persons_path)
        _check_columns(families_path, families.columns, [KEY], "families")
        _check_columns(persons_path, persons.columns, [KEY], "persons")
        features_path = work / "features.parquet"
        # the same code rules as in training (a model trained on plain codes gets no BPS kota rule here)
        bps = wm.manifest.get("survey", {}).get("region_codes", "bps") == "bps"
        n = eng.write_parquet(build_features(families, persons, KEY, bps_codes=bps), features_path)
        timings["features"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        predictions_path = work / "predictions.parquet"
        with pq.ParquetWriter(predictions_path, PREDICTION_SCHEMA, compression="zstd") as writer:
            for batch in pq.ParquetFile(features_path).iter_batches(batch_rows):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                writer.write_table(predict_batch(wm, frame, which))
        timings["predict"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        import ibis

        predictions = eng.read_parquet(predictions_path)
        # only rankable families take part in the ranking, so every desil holds 10% of ranked persons
        is_ranked = predictions.status_peringkat == RANKED
        ranked = rank(predictions.filter(is_ranked))
        unranked = predictions.filter(~is_ranked).mutate(**{c: ibis.null(t) for c, t in RANK_COLUMNS.items()})
        scored = (
            ranked.select(*OUTPUT_COLUMNS[:-1])
            .union(unranked.select(*OUTPUT_COLUMNS[:-1]))
            .mutate(versi_model=ibis.literal(wm.version))
        )
        staged = work / SCORES
        eng.write_parquet(scored.select(*OUTPUT_COLUMNS).order_by(ibis.asc("peringkat"), KEY), staged)
        timings["rank"] = time.perf_counter() - t0
        counts = eng.to_pyarrow(
            predictions.group_by(alasan=predictions.alasan_tidak_diperingkat.fill_null(RANKED)).aggregate(
                n=predictions.count()
            )
        ).to_pylist()
        summary = {
            "families": n,
            "ranking_status": {row["alasan"]: int(row["n"]) for row in counts},
            "versi_model": wm.version,
            "model": which or wm.chosen,
            "engine": eng.name,
            "seconds": {k: round(v, 2) for k, v in timings.items()},
            "families_path": str(families_path),
            "persons_path": str(persons_path),
        }
        atomic.commit_file(staged, out_dir / SCORES)
        atomic.write_text(out_dir / "scores.json", json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("families scored", families=n, model=wm.version, engine=eng.name)
    return summary


def score_survey(
    survey_dir: Path | str,
    model: str | Path | registry.WelfareModel | None,
    out_dir: Path | str,
    config: Any = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Score the households of a survey with a stored model: ``out_dir/survey_scores.parquet`` (one row
    per household: id, weight, observed log consumption, every stored model's estimate, the chosen
    model's 80% interval and P(desil <= 4)) and ``survey_scores.json`` (every model's targeting metrics
    on these rows). With a model trained on some folds and the other fold's file, this is
    cross-validation without the Python API. ``config``: a :class:`SurveyConfig`, a file or a shipped
    name; default the config the model was trained with."""
    from dtsen.welfare.survey import SurveyConfig, load_survey
    from dtsen.welfare.train import survey_matrix

    wm = model if isinstance(model, registry.WelfareModel) else registry.load(model, data_dir)
    if config is None:
        config = SurveyConfig.load(wm.path / "config.yaml")
    elif not isinstance(config, SurveyConfig):
        config = SurveyConfig.load(config)
    m = survey_matrix(load_survey(Path(survey_dir), config))
    trained = list(wm.manifest.get("features", m.names))
    if list(m.names) != trained:
        raise ScoringError(
            f"model {wm.version} was trained on the survey features {wm.manifest.get('extra_features')}; "
            f"this config gives {list(m.extra)} (score with the config the model was trained with)"
        )
    takes_extra = set(wm.manifest.get("extra_models", []))
    static = len(trained) - len(m.extra)

    def view(name: str) -> np.ndarray:
        if name == registry.ADMIN:
            return admin_view(m.x)
        return m.x if name in takes_extra else m.x[:, :static]

    columns: dict[str, Any] = {
        "id_keluarga": m.ids,
        "bobot": m.weight,
        "log_pengeluaran": m.y,
    }
    report: dict[str, Any] = {}
    for name, estimator in wm.models.items():
        pred = estimator.predict(view(name))
        columns[f"skor_{name}"] = pred
        lower = upper = None
        if name in wm.conformal:
            lower, upper, p4, _p5, border = placement(pred, wm.conformal[name], wm.cutoffs[3], wm.cutoffs[4])
            if name == wm.chosen:
                columns |= {"skor": pred, "batas_bawah": lower, "batas_atas": upper}
                columns |= {"p_desil_le4": p4, "borderline": border}
        report[name] = metrics.summary(m.y, pred, m.weight, lower, upper)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(columns).with_columns(versi_model=pl.lit(wm.version))
    with atomic.atomic_file(out_dir / "survey_scores.parquet") as staged:
        frame.write_parquet(staged)
    summary = {
        "households": len(m.y),
        "versi_model": wm.version,
        "chosen": wm.chosen,
        "weighting": config.weighting,
        "metrics": report,
    }
    atomic.write_text(out_dir / "survey_scores.json", json.dumps(summary, indent=2, default=float))
    return summary
