"""``dtsen synth``: generate a synthetic population with every source export and its ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dtsen.cli.progress import progress_bar, stderr

console = Console()


def _codes(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [c.strip().replace(".", "") for c in value.split(",") if c.strip()]


def synth(
    persons: int | None = typer.Option(None, "--persons", "-n", help="Living persons to generate."),
    provinces: str | None = typer.Option(
        None, "--provinces", help="Comma-separated province codes, e.g. 33,34."
    ),
    kabupaten: str | None = typer.Option(
        None, "--kabupaten", help="Comma-separated kabupaten/kota codes, e.g. 3302."
    ),
    seed: int = typer.Option(
        1, "--seed", help="Random seed; same seed and arguments give byte-identical output."
    ),
    out: Path = typer.Option(Path("data/synth"), "--out", help="Output directory."),
    fmt: str = typer.Option("csv", "--format", help="csv | parquet | xlsx for the source exports."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    workers: int = typer.Option(2, "--workers", help="Worker processes (chunks are generated in parallel)."),
    report: bool = typer.Option(False, "--report", help="Print the calibration table (target vs generated)."),
    report_md: Path | None = typer.Option(
        None, "--report-md", help="Also write the calibration table as Markdown."
    ),
    calibrate: bool = typer.Option(
        False, "--calibrate", help="Refit the welfare model constants (developers)."
    ),
) -> None:
    """Generate a synthetic population: sources/ as agencies ship them, truth/ for measuring,
    manifest.json."""
    from dtsen.synth.generate import SynthError, SynthRequest, generate

    if calibrate:
        _calibrate(persons or 800_000, seed)
        return
    if fmt not in ("csv", "parquet", "xlsx"):
        raise typer.BadParameter("--format must be csv, parquet or xlsx")
    if provinces and kabupaten:
        raise typer.BadParameter("give --provinces or --kabupaten, not both")
    if persons is not None:
        _warn_if_untrainable(persons)
        request = SynthRequest(
            persons=persons,
            out=out,
            seed=seed,
            provinces=_codes(provinces),
            kabupaten=_codes(kabupaten),
            fmt=fmt,
            force=force,
            workers=workers,  # type: ignore[arg-type]
        )
        try:
            with progress_bar() as bar:
                task = bar.add_task("synth", total=None, detail="")

                def tick(done: int, total: int, people: int) -> None:
                    bar.update(task, completed=done, total=total, detail=f"{people:,} persons")

                manifest = generate(request, tick)
        except SynthError as exc:
            stderr.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        print_summary(out, manifest)
    elif not (out / "manifest.json").exists():
        raise typer.BadParameter("--persons is required (or --report on an existing --out)")
    if report or report_md:
        print_report(out, report_md)


def _warn_if_untrainable(persons: int) -> None:
    """Say before generating that a cycle on this output will stop at ``score`` (the survey too small)."""
    from dtsen.synth.params import SynthParams
    from dtsen.synth.survey_size import mean_family_size, min_trainable_persons
    from dtsen.welfare.train import MIN_SURVEY_HOUSEHOLDS

    params = SynthParams()
    minimum = min_trainable_persons(params)
    if persons >= minimum:
        return
    expected = persons / mean_family_size(params) * params.susenas_sample_rate
    stderr.print(
        f"[yellow]warning:[/yellow] --persons {persons:,} is below {minimum:,}, the size a cycle can train "
        f"on: its Susenas sample ({100 * params.susenas_sample_rate:g}% of families, about {expected:.0f} "
        f"households here) is short of the {MIN_SURVEY_HOUSEHOLDS} the welfare model needs, so `dtsen cycle "
        "run` on this output stops at the score step. Generating anyway (fine for ingest and linkage)."
    )


def print_summary(out: Path, manifest: dict) -> None:
    table = Table(title=f"Synthetic population in {out}")
    for col in ("file", "source", "rows"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for f in manifest["files"]:
        if f["kind"] == "source":
            table.add_row(f["path"], f["source"], f"{f['rows']:,}")
    console.print(table)
    import polars as pl

    fam = pl.read_parquet(out / "truth" / "families.parquet", columns=["size", "poor", "urban"])
    persons = pl.read_parquet(out / "truth" / "persons.parquet", columns=["alive"])
    living = int(persons["alive"].sum())
    poor_persons = int(fam.filter(pl.col("poor"))["size"].sum())
    console.print(
        f"{living:,} living persons and {persons.height - living:,} recently dead in {fam.height:,} families "
        f"(KK); {100 * poor_persons / max(int(fam['size'].sum()), 1):.1f}% of persons below the poverty "
        f"line; {100 * float(fam['urban'].mean() or 0):.0f}% of families urban."
    )


def print_report(out: Path, report_md: Path | None) -> None:
    from dtsen.synth.report import calibration_report, to_json, to_markdown

    checks = calibration_report(out)
    table = Table(title="Calibration: target vs generated")
    for col in ("metric", "target", "generated", "tolerance", "ok"):
        table.add_column(col)
    for c in checks:
        table.add_row(
            c.metric,
            f"{c.target:g}",
            f"{c.generated:g}",
            f"±{c.tolerance:g}",
            "[green]yes" if c.ok else "[red]no",
        )
    console.print(table)
    (out / "calibration_report.json").write_text(
        json.dumps(to_json(checks), indent=2) + "\n", encoding="utf-8"
    )
    if report_md:
        report_md.write_text(to_markdown(checks), encoding="utf-8")


def _calibrate(persons: int, seed: int) -> None:
    from importlib import resources

    from dtsen.synth.calibration import CALIBRATION_FILE, calibrate

    target = Path(str(resources.files("dtsen.synth").joinpath(CALIBRATION_FILE)))
    result = calibrate(persons=persons, seed=seed if seed != 1 else 20250301, out=target)
    console.print(f"noise_sd={result.noise_sd} written to {target}")


def synth_feeds(
    synth_dir: Path = typer.Option(..., "--synth", help="A `dtsen synth` output directory."),
    period: str = typer.Option(
        ..., "--period", help="Quarter the events and decisions fall in, e.g. 2026Q2."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default: DTSEN_DATA_DIR)."
    ),
    snapshot_ref: str | None = typer.Option(
        None, "--snapshot", help="Snapshot whose families the corrections target (default: the current one)."
    ),
    seed: int = typer.Option(1, "--seed"),
) -> None:
    """Write the quarter's synthetic Dukcapil event feed and approved corrections where the cycle picks
    them up."""
    from dtsen.config import get_settings
    from dtsen.cycle import snapshot
    from dtsen.synth.events import generate_corrections, generate_events

    root = data_dir or get_settings().data_dir
    snap = snapshot.open_snapshot(snapshot_ref, root) if snapshot_ref else snapshot.current(root)
    if snap is None:
        raise typer.BadParameter(
            "no snapshot published yet: run a cycle first (corrections target its families)"
        )
    (root / "events").mkdir(parents=True, exist_ok=True)
    (root / "corrections").mkdir(parents=True, exist_ok=True)
    events = generate_events(synth_dir, root / "events" / f"peristiwa-{period}.csv", period=period, seed=seed)
    fixes = generate_corrections(
        synth_dir,
        snap.file("families.parquet"),
        root / "corrections" / f"koreksi-{period}.csv",
        period=period,
        seed=seed,
    )
    typer.echo(f"events:      {events}")
    typer.echo(f"corrections: {fixes}  (targets snapshot {snap.ref})")
