"""``dtsen welfare train|score|report|models``: train the proxy means test, rank the registry, report."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
app = typer.Typer(
    help="Welfare ranking: train on a survey, score and rank families, accuracy/fairness report."
)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@app.command("train")
def train(
    survey: Path = typer.Option(
        ..., "--survey", help="Directory holding the survey files (e.g. a dtsen synth output)."
    ),
    config: str = typer.Option(
        "susenas",
        "--config",
        help="Survey config YAML, or a shipped one: susenas, susenas_kanonik, tobacco_be, budgetfood_es.",
    ),
    seed: int = typer.Option(0, "--seed"),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where models/ is kept (default: DTSEN_DATA_DIR)."
    ),
    grid: str | None = typer.Option(
        None, "--grid", help='Hyper-parameter grid as JSON, e.g. {"num_leaves": [7, 15]}.'
    ),
    folds: int = typer.Option(3, "--folds", help="Cross-validation folds for the grid search."),
    cv: int = typer.Option(
        0,
        "--cv",
        help="K-fold cross-validation of every model on the same folds (per-fold metrics in metrics.json "
        "and the report); the model with the lowest mean exclusion error at 40% is chosen. 0 = off.",
    ),
) -> None:
    """Train every candidate model (OLS, LightGBM, ...) and a fixed-effects OLS reference; save a version."""
    from dtsen.welfare.survey import SurveyConfig, SurveyError
    from dtsen.welfare.train import train as run

    try:
        chosen_grid = json.loads(grid) if grid else None
        model = run(
            survey,
            SurveyConfig.load(config),
            data_dir=data_dir,
            seed=seed,
            grid=chosen_grid,
            folds=folds,
            cv=cv,
        )
    except (SurveyError, ValueError) as exc:
        _fail(str(exc))
        return
    held = model.metrics["held_out"]
    folds_doc = (model.metrics.get("cv") or {}).get("models", {})
    title = f"model {model.version}: exclusion error at 40% coverage (target = true bottom 40%)"
    table = Table(title=title)
    for col in ("model", "held-out", f"{cv}-fold mean (sd, min-max)" if cv else "cross-validated", "chosen"):
        table.add_column(col)
    for name, m in held.items():
        spread = folds_doc.get(name, {}).get("spread", {}).get("exclusion_error_40")
        cv_text = (
            f"{100 * spread['mean']:.1f}% ({100 * spread['sd']:.1f}, "
            f"{100 * spread['min']:.1f}-{100 * spread['max']:.1f})"
            if spread
            else "-"
        )
        table.add_row(
            name, f"{100 * m['exclusion_error_40']:.1f}%", cv_text, "yes" if name == model.chosen else ""
        )
    console.print(table)
    coverage = model.manifest["headline"].get("interval_coverage")
    if coverage is not None:
        console.print(f"80% interval coverage on held-out households: {100 * coverage:.1f}%")
    console.print(model.path)


@app.command("score")
def score(
    families: Path | None = typer.Option(
        None, "--families", help="Families Parquet (id_keluarga_dtsen + keluarga columns)."
    ),
    persons: Path | None = typer.Option(
        None, "--persons", help="Persons Parquet (id_keluarga_dtsen + anggota columns)."
    ),
    survey: Path | None = typer.Option(
        None,
        "--survey",
        help="Score a survey's households instead (directory, read through --config): survey_scores.parquet "
        "and survey_scores.json with every model's targeting metrics on them.",
    ),
    config: str | None = typer.Option(
        None, "--config", help="With --survey: survey config (default: the one the model was trained with)."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Output directory (<run>/welfare); scores.parquet goes there."
    ),
    model: str | None = typer.Option(None, "--model", help="Model version or directory (default: newest)."),
    engine: str | None = typer.Option(None, "--engine", help="duckdb or spark (default: DTSEN_ENGINE)."),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Score and rank every family (scores.parquet: desil x3, interval, explanations), or score a survey."""
    from dtsen.welfare.registry import ModelNotFoundError
    from dtsen.welfare.score import ScoringError, score_registry, score_survey
    from dtsen.welfare.survey import SurveyError

    registry_given = families is not None or persons is not None
    if (survey is not None and registry_given) or (survey is None and (families is None or persons is None)):
        _fail("give either --families and --persons (the registry) or --survey (survey households)")
        return
    try:
        if survey is not None:
            summary = score_survey(survey, model, out, config=config, data_dir=data_dir)
            summary = {
                **{k: v for k, v in summary.items() if k != "metrics"},
                "exclusion_error_40": {k: v["exclusion_error_40"] for k, v in summary["metrics"].items()},
            }
        else:
            assert families is not None
            assert persons is not None
            summary = score_registry(families, persons, model, out, engine=engine, data_dir=data_dir)
    except (ModelNotFoundError, ScoringError, SurveyError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    console.print(json.dumps(summary))


@app.command("report")
def report(
    out: Path = typer.Option(..., "--out", help="Directory for report.html and report.json."),
    model: str | None = typer.Option(None, "--model", help="Model version or directory (default: newest)."),
    synth: Path | None = typer.Option(
        None, "--synth", help="dtsen synth output: also judge registry scores vs truth."
    ),
    ingested: Path | None = typer.Option(
        None, "--ingested", help="data_dir with the synth sources ingested (with --synth)."
    ),
    model_card: Path | None = typer.Option(
        None, "--model-card", help="Also write the model card here (docs/model-card.md)."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir"),
) -> None:
    """Accuracy and fairness report (HTML + JSON), both models side by side; optionally the model card."""
    import tempfile

    import polars as pl

    from dtsen.welfare import registry, synthetic
    from dtsen.welfare import report as rep
    from dtsen.welfare.score import score_registry

    try:
        wm = registry.load(model, data_dir)
    except registry.ModelNotFoundError as exc:
        _fail(str(exc))
        return
    evaluation = None
    if synth is not None:
        if ingested is None:
            _fail("--synth needs --ingested (the data_dir where the synth sources were ingested)")
            return
        with tempfile.TemporaryDirectory(prefix="dtsen-welfare-report-") as tmp:
            fam, per = synthetic.regsosek_registry(ingested, Path(tmp) / "registry")
            truth = synthetic.regsosek_truth(ingested, synth)
            evaluation = {}
            for name in wm.models:
                score_registry(fam, per, wm, Path(tmp) / name, which=name)
                evaluation[name] = synthetic.evaluate(
                    pl.read_parquet(Path(tmp) / name / "scores.parquet"), truth
                )
    doc = rep.build(wm, evaluation)
    html, js = rep.write(doc, out)
    console.print(f"report: {html}\njson:   {js}")
    if model_card is not None:
        model_card.parent.mkdir(parents=True, exist_ok=True)
        model_card.write_text(rep.model_card(doc), encoding="utf-8")
        console.print(f"model card: {model_card}")


@app.command("models")
def models(data_dir: Path | None = typer.Option(None, "--data-dir")) -> None:
    """List trained model versions with their chosen model and held-out exclusion error."""
    from dtsen.welfare import registry

    table = Table(title="welfare models")
    for col in ("version", "chosen", "exclusion error 40%", "baseline", "data hash"):
        table.add_column(col)
    for version in registry.versions(data_dir):
        manifest = json.loads(
            (registry.models_root(data_dir) / version / "manifest.json").read_text(encoding="utf-8")
        )
        h = manifest["headline"]
        table.add_row(
            version,
            manifest["chosen"],
            f"{100 * h['exclusion_error_40']:.1f}%",
            f"{100 * h['baseline_exclusion_error_40']:.1f}%",
            manifest["data_hash"][:12],
        )
    console.print(table)
