"""``dtsen link ...``: run the linkage step, evaluate it against synthetic truth, work the review queue."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dtsen.logs import mask_value

app = typer.Typer(
    help="Linkage: one person, one family, stable IDs (see docs/linkage.md).", no_args_is_help=True
)
review_app = typer.Typer(
    help="Clerical review queue: list grey-band pairs, record decisions.", no_args_is_help=True
)
app.add_typer(review_app, name="review")
console = Console()


def _data_dir() -> Path:
    """The configured data directory; dtsen.config is imported here, not at start-up (it is slow)."""
    from dtsen.config import get_settings

    return get_settings().data_dir


def _state(state: Path | None) -> Path:
    return state or _data_dir() / "linkage"


def _latest_run() -> Path:
    """The newest linkage output: of `dtsen link run` (runs/<run>/link) or of a quarterly cycle
    (cycles/<period>/link/tables), whichever was written last."""
    data = _data_dir()
    found = [p for p in (*data.glob("runs/*/link"), *data.glob("cycles/*/link/tables")) if p.is_dir()]
    if not found:
        raise typer.BadParameter(
            f"no linkage run under {data / 'runs'} or {data / 'cycles'}; run `dtsen link run` or "
            "`dtsen cycle run` first, or pass --run"
        )
    return max(found, key=lambda p: (p.stat().st_mtime, str(p)))


@app.command("run")
def run_cmd(
    batch: list[Path] = typer.Option(
        None, "--batch", help="Batch directories (default: newest of each mapping)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output directory (default data_dir/runs/<run>/link)."
    ),
    state: Path | None = typer.Option(None, "--state", help="State directory (default data_dir/linkage)."),
    engine: str | None = typer.Option(None, "--engine", help="duckdb or spark (default DTSEN_ENGINE)."),
    config: Path | None = typer.Option(
        None, "--config-yaml", help="Linkage settings YAML (docs/linkage.md)."
    ),
    retrain: bool = typer.Option(False, "--retrain", help="Train a new Splink model version."),
    truth: Path | None = typer.Option(None, "--truth", help="Synthetic dataset: evaluate against its truth."),
) -> None:
    """Link every person-naming record to Dukcapil, cluster, assign stable IDs, build golden records."""
    from datetime import UTC, datetime

    from dtsen.linkage.config import LinkConfig
    from dtsen.linkage.inputs import LinkInputError
    from dtsen.linkage.run import link

    cfg = LinkConfig.from_yaml(config) if config else LinkConfig()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = out or _data_dir() / "runs" / run_id / "link"
    try:
        result = link(
            batch or None, target, _state(state), engine=engine, config=cfg, retrain=retrain, run=run_id
        )
    except LinkInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    table = Table(title=f"linkage run {result.run} ({result.model})")
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in result.counts.items():
        table.add_row(k, f"{v:,}")
    console.print(table)
    for note in result.notes:  # what the inputs lack and which rules were left out for it
        console.print(f"missing: {note}", markup=False)
    t = result.thresholds
    console.print(
        f"thresholds: match {t['match']} ({t['match_from']}), review {t['review']} ({t['review_from']}): "
        f"{t['reason']}",
        markup=False,
    )
    console.print(
        f"review queue: {result.counts.get('review', 0):,} pairs, "
        f"{result.counts.get('review_records', 0):,} records"
    )
    console.print(f"output: {result.out_dir}  seconds: {result.seconds['total']}")
    if truth is not None:
        from dtsen.linkage.evaluate import evaluate_run

        typer.echo(json.dumps(evaluate_run(result.out_dir, truth, cfg)))


@app.command("evaluate")
def evaluate_cmd(
    truth: Path = typer.Option(..., "--truth", help="Synthetic dataset directory (with truth/)."),
    run: Path | None = typer.Option(None, "--run", help="Linkage output directory (default: latest run)."),
) -> None:
    """Pairwise/cluster accuracy, dead detection, NIK-ganda resolution, family reconciliation (one JSON
    line)."""
    from dtsen.linkage.evaluate import evaluate_run

    typer.echo(json.dumps(evaluate_run(run or _latest_run(), truth)))


@app.command("thresholds")
def thresholds_cmd(
    run: Path | None = typer.Option(None, "--run", help="Linkage output directory (default: latest run)."),
    state: Path | None = typer.Option(None, "--state", help="State directory (default data_dir/linkage)."),
    labels: Path | None = typer.Option(
        None, "--labels", help="CSV of labelled pairs: keputusan and probabilitas (or id_pasangan)."
    ),
    config: Path | None = typer.Option(
        None, "--config-yaml", help="Linkage settings YAML (targets: target_precision, review_precision)."
    ),
) -> None:
    """Recommend match and review thresholds from the model and from a clerical sample; changes nothing.

    The model's recommendation reads the run's score distribution (thresholds.json); the sample is the
    decisions recorded in the state (on pairs the run scored) plus --labels. Prints a table, then one
    JSON line."""
    import polars as pl

    from dtsen.linkage import review as rv
    from dtsen.linkage import thresholds as th
    from dtsen.linkage.config import LinkConfig

    cfg = LinkConfig.from_yaml(config) if config else LinkConfig()
    p = cfg.probabilistic
    out_dir = run or _latest_run()
    try:
        used, hist = th.read_record(out_dir)
        review_path = out_dir / "review.parquet"
        review = pl.read_parquet(review_path) if review_path.exists() else None
        decided = rv.load_decisions(_state(state)).select("id_pasangan", "keputusan")
        samples = [th.labels_from_decisions(decided, review)] if review is not None else []
        if labels is not None:
            samples.append(th.labels_from_csv(labels, review))
    except th.ThresholdError as exc:
        raise typer.BadParameter(str(exc)) from exc
    sample = (
        pl.concat(samples)
        if samples
        else pl.DataFrame(schema={"probabilitas": pl.Float64, "cocok": pl.Boolean})
    )
    match = th.match_from_model(hist, p.target_precision)
    model = {
        "match": match,
        "review": th.review_from_model(hist, match, p.review_precision) if match is not None else None,
        "pairs_scored": int(hist["n"].sum()),
        "target_precision": p.target_precision,
        "review_precision": p.review_precision,
    }
    model["expected_precision_match"] = th.expected_precision(hist, match) if match is not None else None
    advice = th.from_sample(sample, p.target_precision)
    table = Table(title=f"thresholds for {out_dir}")
    for c in ("source", "match", "review", "evidence"):
        table.add_column(c)
    table.add_row(
        "used by the run", str(used["match"]), str(used["review"]), f"{used['match_from']}: {used['reason']}"
    )
    table.add_row(
        "model",
        str(model["match"]),
        str(model["review"]),
        f"expected precision >= {p.target_precision} over {model['pairs_scored']:,} scored pairs",
    )
    table.add_row(
        f"clerical sample (n={advice.n}, {advice.matches} cocok)",
        str(advice.target_threshold),
        "",
        f"{advice.statement}; best F1 {advice.best_f1} at {advice.best_f1_threshold}",
    )
    console.print(table)
    for note in advice.notes:
        console.print(note, markup=False)
    typer.echo(json.dumps({"run": str(out_dir), "used": used, "model": model, "sample": advice.as_dict()}))


@app.command("febrl")
def febrl_cmd(
    engine: str | None = typer.Option(None, "--engine"),
    which: str = typer.Option("4", "--set", help="1, 2, 3 (deduplication), 4 (A vs B, register A) or all."),
) -> None:
    """Link FEBRL sets through the same code path; print one JSON line of metrics per set."""
    from dtsen.linkage.febrl import FEBRL_SETS, link_febrl

    names = {str(n): (n,) for n in FEBRL_SETS} | {"all": FEBRL_SETS}
    if which not in names:
        raise typer.BadParameter(f"{which!r}: give 1, 2, 3, 4 or all", param_hint="--set")
    for n in names[which]:
        typer.echo(json.dumps(link_febrl(n, engine)))


@review_app.command("list")
def review_list(
    run: Path | None = typer.Option(None, "--run", help="Linkage output directory (default: latest run)."),
    status: str = typer.Option("menunggu", "--status", help="menunggu, cocok, tidak_cocok or all."),
    limit: int = typer.Option(20, "--limit"),
    show_pii: bool = typer.Option(False, "--show-pii", help="Show names and NIKs (for the reviewing clerk)."),
) -> None:
    """Pairs waiting for a decision, both records side by side (personal data masked unless --show-pii)."""
    import polars as pl

    path = (run or _latest_run()) / "review.parquet"
    q = pl.read_parquet(path)
    if status != "all":
        q = q.filter(pl.col("status") == status)
    table = Table(title=f"review queue: {q.height:,} pairs ({status})")
    for c in ("id_pasangan", "probabilitas", "kiri", "kanan", "bukti"):
        table.add_column(c)

    def side(row: dict, s: str) -> str:
        nama = row[f"{s}_nama"] if show_pii else mask_value(row[f"{s}_nama"])
        nik = row[f"{s}_nik"] if show_pii else mask_value(row[f"{s}_nik"])
        return f"{row[f'{s}_sumber']} {nama} {nik} {row[f'{s}_tanggal_lahir']} {row[f'{s}_kode_desa']}"

    for row in q.head(limit).iter_rows(named=True):
        pair = row["id_pasangan"] if show_pii else mask_value(row["id_pasangan"])
        table.add_row(pair, f"{row['probabilitas']:.3f}", side(row, "kiri"), side(row, "kanan"), row["bukti"])
    console.print(table)


@review_app.command("decide")
def review_decide(
    id_pasangan: str = typer.Argument(
        ..., help="The pair id (from review list --show-pii or review.parquet)."
    ),
    keputusan: str = typer.Argument(..., help="cocok (same person) or tidak_cocok (different persons)."),
    state: Path | None = typer.Option(None, "--state"),
    oleh: str | None = typer.Option(None, "--by", help="Who decides (default: the OS user)."),
) -> None:
    """Record a decision; the next run links (cocok) or separates (tidak_cocok) the pair."""
    from dtsen.linkage.review import ReviewError, decide

    try:
        decide(_state(state), id_pasangan, keputusan, oleh)
    except ReviewError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(f"decision recorded: {keputusan}")
