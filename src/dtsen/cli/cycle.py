"""``dtsen cycle run|resume|status``: the quarterly cycle, the product's main job."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from dtsen.cli.progress import progress_bar, stderr

app = typer.Typer(
    help="The quarterly cycle: ingest -> link -> apply_events -> score -> eligibility -> publish."
)


def _runner(period: str, inbox: Path | None, cutoff: str | None, engine: str | None, progress: object):
    from dtsen.cycle.period import Period, PeriodError
    from dtsen.cycle.run import CycleRunner
    from dtsen.cycle.steps import STEPS

    try:
        p = Period.parse(period)
    except PeriodError as exc:
        raise typer.BadParameter(str(exc)) from exc
    options = {
        "inbox": str(inbox.resolve()) if inbox else None,
        "cutoff": _aware(datetime.fromisoformat(cutoff)).isoformat() if cutoff else None,
    }
    task = progress.add_task(f"siklus {p}", total=len(STEPS), detail="")  # type: ignore[attr-defined]
    labels = {s.name: s.label for s in STEPS}

    def on_step(name: str, event: str) -> None:
        if event == "start":
            progress.update(task, detail=labels[name])  # type: ignore[attr-defined]
        else:
            progress.advance(task)  # type: ignore[attr-defined]

    return CycleRunner(p, STEPS, engine=engine, options=options, on_step=on_step)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timing_table(steps: dict) -> Table:
    table = Table(title="Waktu per langkah / time per step")
    table.add_column("langkah / step")
    table.add_column("detik / s", justify="right")
    for name, record in steps.items():
        table.add_row(name, f"{record['seconds']:.1f}")
    table.add_row("[bold]total", f"[bold]{sum(r['seconds'] for r in steps.values()):.1f}")
    return table


def _execute(period: str, inbox: Path | None, cutoff: str | None, engine: str | None, **kw: bool) -> None:
    from dtsen.cycle.run import CycleError
    from dtsen.locks import LockHeldError
    from dtsen.tables import CycleStatus

    with progress_bar() as progress:
        runner = _runner(period, inbox, cutoff, engine, progress)
        try:
            result = runner.run(**kw)
        except LockHeldError as exc:  # another run is live: nothing of this one started
            stderr.print(f"[red]ditolak / refused:[/red] {exc}")
            raise typer.Exit(1) from exc
        except CycleError as exc:
            stderr.print(f"[red]gagal / failed:[/red] {exc}")
            stderr.print("Langkah yang selesai tetap tersimpan; lanjutkan dengan `dtsen cycle resume`.")
            raise typer.Exit(1) from exc
    if result.status == CycleStatus.NOOP:
        typer.echo(f"period {result.period} already published; nothing to do (use --force to run again)")
        return
    stderr.print(_timing_table(result.steps))
    publish = result.steps.get("publish", {}).get("summary", {})
    shown = {k: v for k, v in publish.items() if k != "files"}  # checksums: `dtsen snapshot show`
    typer.echo(json.dumps({"period": result.period, "status": result.status, **shown}, default=str))


@app.command("run")
def run(
    period: str = typer.Option(..., "--period", help="Quarter to run, e.g. 2026Q1."),
    inbox: Path | None = typer.Option(
        None,
        "--inbox",
        help="Source files to ingest first: a `dtsen synth` output or one folder per mapping.",
    ),
    cutoff: str | None = typer.Option(
        None, "--cutoff", help="Use inputs landed up to this time (ISO; default now)."
    ),
    engine: str | None = typer.Option(None, "--engine", help="duckdb or spark (default from settings)."),
    force: bool = typer.Option(False, "--force", help="Run a published period again (the old run is kept)."),
) -> None:
    """Freeze the inputs and run every step of the period, checkpointing each."""
    _execute(period, inbox, cutoff, engine, force=force)


@app.command("resume")
def resume(
    period: str = typer.Option(..., "--period", help="Quarter whose interrupted run to continue."),
) -> None:
    """Continue an interrupted run from the first step not committed."""
    _execute(period, None, None, None, resume=True)


@app.command("status")
def status(period: str = typer.Option(..., "--period")) -> None:
    """Which steps of the period are committed, with their timings."""
    from dtsen.cycle.period import Period
    from dtsen.cycle.run import CycleRunner
    from dtsen.cycle.steps import STEPS

    runner = CycleRunner(Period.parse(period), STEPS)
    state = runner.state()
    if state is None:
        typer.echo(f"period {period}: never run")
        raise typer.Exit(1)
    typer.echo(
        json.dumps(
            {k: state[k] for k in ("period", "status", "started_at")}
            | {
                "steps": {
                    n: {"seconds": s["seconds"], "summary": s["summary"]} for n, s in state["steps"].items()
                },
                "pending": [s.name for s in STEPS if s.name not in state["steps"]],
            },
            indent=2,
            default=str,
        )
    )
